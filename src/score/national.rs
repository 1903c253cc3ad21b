//! The national rollup: per target and part, the share of agencies meeting it against the
//! plan's goal, per kind and overall; and from the history, when each reaches its goal at
//! today's pace. Pure.

use serde::Serialize;

use super::{Component, Method, Verdict};
use crate::registry::AgencyKind;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Attainment {
    /// A target (`T3`) or one of its parts (`T3.plan`).
    pub id: String,
    /// `None` for all agencies together.
    pub kind: Option<AgencyKind>,
    pub met: usize,
    pub agencies: usize,
    pub share: f64,
    pub goal: f64,
    /// The goal is "over" the share rather than "at least".
    pub above: bool,
    pub goal_met: bool,
}

/// A target is met when all its parts are; its goal is the least demanding of its parts'
/// (T3: over 30% deploy the platform, which presupposes the plan).
fn target_goal(method: &Method, target: &str) -> Option<(f64, bool)> {
    method
        .targets
        .iter()
        .find(|t| t.id == target)?
        .parts
        .iter()
        .map(|p| (p.goal, p.above))
        .min_by(|a, b| a.0.total_cmp(&b.0))
}

/// Attainment of every target and part, overall and for each kind, from each agency's
/// components.
pub fn attainment(method: &Method, agencies: &[(AgencyKind, Vec<Component>)]) -> Vec<Attainment> {
    let mut ids: Vec<(String, f64, bool)> = Vec::new();
    for t in &method.targets {
        if let Some((goal, above)) = target_goal(method, &t.id) {
            ids.push((t.id.clone(), goal, above));
        }
        ids.extend(
            t.parts
                .iter()
                .map(|p| (p.id().to_string(), p.goal, p.above)),
        );
    }
    let mut out = Vec::new();
    for kind in [None, Some(AgencyKind::Ministry), Some(AgencyKind::Province)] {
        let members: Vec<&Vec<Component>> = agencies
            .iter()
            .filter(|(k, _)| kind.is_none_or(|kind| kind == *k))
            .map(|(_, c)| c)
            .collect();
        for (id, goal, above) in &ids {
            let met = members
                .iter()
                .filter(|cs| {
                    cs.iter()
                        .any(|c| c.id == *id && c.verdict == Some(Verdict::Met))
                })
                .count();
            let share = if members.is_empty() {
                0.0
            } else {
                met as f64 / members.len() as f64
            };
            out.push(Attainment {
                id: id.clone(),
                kind,
                met,
                agencies: members.len(),
                share,
                goal: *goal,
                above: *above,
                goal_met: goal_met(share, *goal, *above),
            });
        }
    }
    out
}

fn goal_met(share: f64, goal: f64, above: bool) -> bool {
    if above {
        share > goal + 1e-9
    } else {
        share >= goal - 1e-9
    }
}

/// An agency's index per cycle across a merge: its own where it was scored, else the mean
/// of its predecessors' in that cycle (as the official DTI averages merged provinces), so
/// its trend runs on across 2025's merges. `(cycle, index)` in, `(cycle, index, rolled
/// up)` out, by cycle.
pub fn merged_history(own: &[(i64, f64)], predecessors: &[(i64, f64)]) -> Vec<(i64, f64, bool)> {
    let mut by_cycle: std::collections::BTreeMap<i64, (Option<f64>, f64, u32)> = Default::default();
    for (cycle, index) in own {
        by_cycle.entry(*cycle).or_insert((None, 0.0, 0)).0 = Some(*index);
    }
    for (cycle, index) in predecessors {
        let e = by_cycle.entry(*cycle).or_insert((None, 0.0, 0));
        e.1 += index;
        e.2 += 1;
    }
    by_cycle
        .into_iter()
        .filter_map(|(cycle, (own, sum, n))| match own {
            Some(i) => Some((cycle, i, false)),
            None if n > 0 => Some((cycle, sum / f64::from(n), true)),
            None => None,
        })
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Forecast {
    /// The goal is met today.
    Met,
    /// At today's pace the goal is reached on this day (days since 1970-01-01).
    Reached { day: i32 },
    /// The share is flat or falling.
    NotAtThisPace,
    /// Fewer than two observations on different days.
    NotEnoughHistory,
}

/// When a share reaches its goal, by a least-squares line through its history
/// (`(day, share)`, any order).
pub fn forecast(history: &[(i32, f64)], goal: f64, above: bool) -> Forecast {
    let Some(&(last_day, last_share)) = history.iter().max_by_key(|(d, _)| *d) else {
        return Forecast::NotEnoughHistory;
    };
    if goal_met(last_share, goal, above) {
        return Forecast::Met;
    }
    let n = history.len() as f64;
    let mean_x = history.iter().map(|(d, _)| *d as f64).sum::<f64>() / n;
    let mean_y = history.iter().map(|(_, s)| *s).sum::<f64>() / n;
    let sxx: f64 = history
        .iter()
        .map(|(d, _)| (*d as f64 - mean_x).powi(2))
        .sum();
    if sxx == 0.0 {
        return Forecast::NotEnoughHistory;
    }
    let sxy: f64 = history
        .iter()
        .map(|(d, s)| (*d as f64 - mean_x) * (s - mean_y))
        .sum();
    let slope = sxy / sxx;
    if slope <= 1e-12 {
        return Forecast::NotAtThisPace;
    }
    // From the line's value on the last day, so a noisy last point does not move it.
    let now = mean_y + slope * (last_day as f64 - mean_x);
    let target = if above { goal + 1e-6 } else { goal };
    // A hair under, so that float noise in an exact quotient does not add a day.
    let days = ((target - now) / slope - 1e-9).ceil().max(1.0);
    if days > 365.0 * 100.0 {
        return Forecast::NotAtThisPace;
    }
    Forecast::Reached {
        day: last_day + days as i32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn comps(verdicts: &[(&str, Verdict)]) -> Vec<Component> {
        verdicts
            .iter()
            .map(|(id, v)| Component {
                id: id.to_string(),
                verdict: Some(*v),
                points: 0.0,
                max_points: 0.0,
            })
            .collect()
    }

    #[test]
    fn attainment_counts_agencies_meeting_each_goal() {
        let m = Method::builtin();
        let agencies = vec![
            (
                AgencyKind::Province,
                comps(&[
                    ("T3", Verdict::Met),
                    ("T3.plan", Verdict::Met),
                    ("T3.platform", Verdict::Met),
                ]),
            ),
            (
                AgencyKind::Province,
                comps(&[
                    ("T3", Verdict::Partly),
                    ("T3.plan", Verdict::Met),
                    ("T3.platform", Verdict::NotMet),
                ]),
            ),
            (
                AgencyKind::Ministry,
                comps(&[
                    ("T3", Verdict::NotMet),
                    ("T3.plan", Verdict::NotMet),
                    ("T3.platform", Verdict::NotMet),
                ]),
            ),
        ];
        let a = attainment(&m, &agencies);
        let find = |id: &str, kind| a.iter().find(|x| x.id == id && x.kind == kind).unwrap();
        // 2 of 3 issued the plan: over half, goal met.
        let plan = find("T3.plan", None);
        assert_eq!((plan.met, plan.agencies, plan.goal_met), (2, 3, true));
        // 1 of 3 deployed: 33% is over 30%.
        assert!(find("T3.platform", None).goal_met);
        // Provinces: both issued; ministries: none.
        assert_eq!(find("T3.plan", Some(AgencyKind::Province)).share, 1.0);
        assert_eq!(find("T3.plan", Some(AgencyKind::Ministry)).share, 0.0);
        // The target: met by 1 of 3, against the least demanding goal (over 30%).
        let t3 = find("T3", None);
        assert_eq!((t3.met, t3.goal, t3.above), (1, 0.3, true));
        // T1 is all-or-nothing at 100%, and nobody has it here.
        assert!(!find("T1", None).goal_met);
    }

    #[test]
    fn history_rolls_up_the_predecessors_before_a_merge() {
        // Two provinces scored in cycles 1 and 2, merged into a third from cycle 3.
        let own = [(3, 700.0), (4, 720.0)];
        let before = [(1, 400.0), (1, 600.0), (2, 500.0), (2, 700.0)];
        assert_eq!(
            merged_history(&own, &before),
            [
                (1, 500.0, true),
                (2, 600.0, true),
                (3, 700.0, false),
                (4, 720.0, false)
            ]
        );
        assert_eq!(
            merged_history(&own, &[]),
            [(3, 700.0, false), (4, 720.0, false)]
        );
    }

    #[test]
    fn forecasts_follow_the_pace() {
        // +10 points a month from 40%: 100% in six months after the last day.
        let history = [(0, 0.4), (30, 0.5), (60, 0.6)];
        assert_eq!(
            forecast(&history, 1.0, false),
            Forecast::Reached { day: 60 + 120 }
        );
        assert_eq!(forecast(&history, 0.5, false), Forecast::Met);
        assert_eq!(
            forecast(&[(0, 0.5), (30, 0.5)], 1.0, false),
            Forecast::NotAtThisPace
        );
        assert_eq!(
            forecast(&[(0, 0.6), (30, 0.5)], 1.0, false),
            Forecast::NotAtThisPace
        );
        assert_eq!(
            forecast(&[(10, 0.5)], 1.0, false),
            Forecast::NotEnoughHistory
        );
        assert_eq!(forecast(&[], 1.0, false), Forecast::NotEnoughHistory);
        // "Over half": exactly half is not yet met.
        assert!(matches!(
            forecast(&[(0, 0.4), (10, 0.5)], 0.5, true),
            Forecast::Reached { .. }
        ));
    }
}
