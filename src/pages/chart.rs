//! The history chart: an SVG drawn on the server, so it needs no script and prints.

use super::i18n::Text;
use crate::http::HistoryPoint;

pub const WIDTH: f64 = 640.0;
pub const HEIGHT: f64 = 220.0;
const LEFT: f64 = 44.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 28.0;

pub struct Dot {
    pub x: String,
    pub y: String,
    /// Shown on hover: the cycle's day and the index.
    pub title: String,
    pub rolled_up: bool,
}

pub struct Chart {
    pub width: f64,
    pub height: f64,
    /// The `points` attribute of the line.
    pub line: String,
    pub dots: Vec<Dot>,
    /// (y, label) of each horizontal grid line.
    pub grid: Vec<(String, &'static str)>,
    /// (x, label) of the first and last cycle's day.
    pub days: Vec<(String, String)>,
    pub left: f64,
    pub right_edge: f64,
    pub label: &'static str,
}

impl Chart {
    /// The index (0–1000) over the cycles, oldest on the left, evenly spaced.
    pub fn of(history: &[HistoryPoint], t: &Text) -> Chart {
        let plot_w = WIDTH - LEFT - RIGHT;
        let plot_h = HEIGHT - TOP - BOTTOM;
        let step = if history.len() > 1 {
            plot_w / (history.len() - 1) as f64
        } else {
            0.0
        };
        let x_of = |i: usize| LEFT + step * i as f64;
        let y_of =
            |index: f64| TOP + plot_h * (1.0 - (index / crate::score::INDEX_SCALE).clamp(0.0, 1.0));
        let day = |p: &HistoryPoint| {
            let at = p
                .cycle
                .finished_at
                .as_deref()
                .unwrap_or(&p.cycle.started_at);
            at.get(..10).unwrap_or(at).to_string()
        };
        let dots: Vec<Dot> = history
            .iter()
            .enumerate()
            .map(|(i, p)| Dot {
                x: format!("{:.1}", x_of(i)),
                y: format!("{:.1}", y_of(p.index)),
                title: if p.rolled_up_from_predecessors {
                    format!("{}: {:.1} ({})", day(p), p.index, t.rolled_up)
                } else {
                    format!("{}: {:.1}", day(p), p.index)
                },
                rolled_up: p.rolled_up_from_predecessors,
            })
            .collect();
        let line = dots
            .iter()
            .map(|d| format!("{},{}", d.x, d.y))
            .collect::<Vec<_>>()
            .join(" ");
        let grid = [(0.0, "0"), (500.0, "500"), (1000.0, "1000")]
            .into_iter()
            .map(|(v, label)| (format!("{:.1}", y_of(v)), label))
            .collect();
        let mut days = Vec::new();
        if let Some(first) = history.first() {
            days.push((format!("{LEFT:.1}"), day(first)));
        }
        if history.len() > 1
            && let Some(last) = history.last()
        {
            days.push((format!("{:.1}", x_of(history.len() - 1)), day(last)));
        }
        Chart {
            width: WIDTH,
            height: HEIGHT,
            line,
            dots,
            grid,
            days,
            left: LEFT,
            right_edge: WIDTH - RIGHT,
            label: t.history_chart,
        }
    }
}
