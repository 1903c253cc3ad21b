//! Every string the pages and reports show, in Vietnamese (the default) and English: one
//! table per language, so a string missing from either is a compile error.

use serde::Deserialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    #[default]
    Vi,
    En,
}

impl Lang {
    /// `en` selects English; anything else, or nothing, Vietnamese.
    pub fn from_param(param: Option<&str>) -> Lang {
        match param {
            Some("en") => Lang::En,
            _ => Lang::Vi,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Lang::Vi => "vi",
            Lang::En => "en",
        }
    }

    pub fn other(self) -> Lang {
        match self {
            Lang::Vi => Lang::En,
            Lang::En => Lang::Vi,
        }
    }

    pub fn text(self) -> &'static Text {
        match self {
            Lang::Vi => &VI,
            Lang::En => &EN,
        }
    }
}

pub struct Text {
    /// The name of the other language, on the switch that selects it.
    pub switch_to: &'static str,
    pub site_title: &'static str,
    pub national_title: &'static str,
    pub national_intro: &'static str,
    pub no_cycle: &'static str,
    pub last_cycle: &'static str,
    pub attainment: &'static str,
    pub target: &'static str,
    pub goal: &'static str,
    pub all_agencies: &'static str,
    pub ministries: &'static str,
    pub provinces: &'static str,
    pub ministry: &'static str,
    pub province: &'static str,
    pub goal_met: &'static str,
    pub goal_not_met: &'static str,
    pub over: &'static str,
    pub at_least: &'static str,
    pub forecast: &'static str,
    pub forecast_met: &'static str,
    pub forecast_reached: &'static str,
    pub forecast_not_at_pace: &'static str,
    pub forecast_no_history: &'static str,
    pub rankings: &'static str,
    pub rank: &'static str,
    pub agency: &'static str,
    pub index: &'static str,
    pub band: &'static str,
    pub movement: &'static str,
    pub movement_new: &'static str,
    pub datasets: &'static str,
    pub back_to_national: &'static str,
    pub rank_overall: &'static str,
    pub rank_in_kind: &'static str,
    pub targets: &'static str,
    pub verdict: &'static str,
    pub points: &'static str,
    pub parts: &'static str,
    pub reasons: &'static str,
    pub no_reasons: &'static str,
    pub dimensions: &'static str,
    pub history: &'static str,
    pub history_chart: &'static str,
    pub rolled_up: &'static str,
    pub findings: &'static str,
    pub no_findings: &'static str,
    pub rule: &'static str,
    pub severity: &'static str,
    pub dataset: &'static str,
    pub subject: &'static str,
    pub message: &'static str,
    pub fix: &'static str,
    pub any: &'static str,
    pub filter: &'static str,
    pub download_csv: &'static str,
    pub shown_of: &'static str,
    pub not_scored: &'static str,
    pub not_found: &'static str,
    pub unavailable: &'static str,
    pub band_excellent: &'static str,
    pub band_good: &'static str,
    pub band_sufficient: &'static str,
    pub band_poor: &'static str,
    pub verdict_met: &'static str,
    pub verdict_partly: &'static str,
    pub verdict_not_met: &'static str,
    pub severity_high: &'static str,
    pub severity_medium: &'static str,
    pub severity_low: &'static str,
    pub severity_info: &'static str,
    pub dim_sufficient: &'static str,
    pub dim_correct: &'static str,
    pub dim_clean: &'static str,
    pub dim_alive: &'static str,
    pub catalog_title: &'static str,
    pub catalog_intro: &'static str,
    pub search: &'static str,
    pub kind_label: &'static str,
    pub format: &'static str,
    pub title: &'static str,
    pub publisher: &'static str,
    pub modified: &'static str,
    pub license: &'static str,
    pub downloads: &'static str,
    pub found: &'static str,
    pub previous: &'static str,
    pub next: &'static str,
    pub no_datasets: &'static str,
}

impl Text {
    pub fn band(&self, band: &str) -> &'static str {
        match band {
            "excellent" => self.band_excellent,
            "good" => self.band_good,
            "sufficient" => self.band_sufficient,
            _ => self.band_poor,
        }
    }

    pub fn verdict(&self, verdict: Option<&str>) -> &'static str {
        match verdict {
            Some("met") => self.verdict_met,
            Some("partly") => self.verdict_partly,
            Some("not_met") => self.verdict_not_met,
            _ => "–",
        }
    }

    pub fn severity(&self, severity: &str) -> &'static str {
        match severity {
            "high" => self.severity_high,
            "medium" => self.severity_medium,
            "low" => self.severity_low,
            _ => self.severity_info,
        }
    }

    pub fn dimension(&self, dimension: &str) -> &'static str {
        match dimension {
            "sufficient" => self.dim_sufficient,
            "correct" => self.dim_correct,
            "clean" => self.dim_clean,
            _ => self.dim_alive,
        }
    }

    pub fn kind(&self, kind: &str) -> &'static str {
        match kind {
            "ministry" => self.ministry,
            _ => self.province,
        }
    }

    pub fn kind_plural(&self, kind: &str) -> &'static str {
        match kind {
            "ministry" => self.ministries,
            "province" => self.provinces,
            _ => self.all_agencies,
        }
    }
}

pub const VI: Text = Text {
    switch_to: "English",
    site_title: "Chỉ số chia sẻ dữ liệu",
    national_title: "Chỉ số chia sẻ dữ liệu của các bộ, ngành và địa phương",
    national_intro: "Mức độ công bố và chia sẻ dữ liệu của từng bộ, ngành, tỉnh, thành phố, đo tự động theo các mục tiêu quốc gia.",
    no_cycle: "Chưa có kỳ đánh giá nào hoàn tất.",
    last_cycle: "Kỳ đánh giá gần nhất",
    attainment: "Mức độ đạt mục tiêu",
    target: "Mục tiêu",
    goal: "Chỉ tiêu",
    all_agencies: "Tất cả",
    ministries: "Bộ, ngành",
    provinces: "Tỉnh, thành phố",
    ministry: "Bộ, ngành",
    province: "Tỉnh, thành phố",
    goal_met: "Đạt chỉ tiêu",
    goal_not_met: "Chưa đạt chỉ tiêu",
    over: "trên",
    at_least: "ít nhất",
    forecast: "Dự báo",
    forecast_met: "đã đạt",
    forecast_reached: "đạt vào",
    forecast_not_at_pace: "không đạt với tốc độ hiện nay",
    forecast_no_history: "chưa đủ dữ liệu",
    rankings: "Xếp hạng",
    rank: "Hạng",
    agency: "Cơ quan",
    index: "Chỉ số",
    band: "Xếp loại",
    movement: "Thay đổi",
    movement_new: "mới",
    datasets: "Bộ dữ liệu",
    back_to_national: "Bảng xếp hạng quốc gia",
    rank_overall: "Hạng chung",
    rank_in_kind: "Hạng trong nhóm",
    targets: "Các mục tiêu",
    verdict: "Kết quả",
    points: "Điểm",
    parts: "Các tiêu chí",
    reasons: "Lý do",
    no_reasons: "Không mất điểm.",
    dimensions: "Bốn khía cạnh chất lượng",
    history: "Diễn biến chỉ số",
    history_chart: "Biểu đồ chỉ số qua các kỳ đánh giá",
    rolled_up: "trước khi sáp nhập: trung bình của các đơn vị cũ",
    findings: "Phát hiện",
    no_findings: "Không có phát hiện nào.",
    rule: "Quy tắc",
    severity: "Mức độ",
    dataset: "Bộ dữ liệu hoặc đối tượng",
    subject: "Đối tượng",
    message: "Nội dung",
    fix: "Cách khắc phục",
    any: "Tất cả",
    filter: "Lọc",
    download_csv: "Tải về CSV",
    shown_of: "hiển thị / tổng số",
    not_scored: "Cơ quan này chưa được đánh giá trong kỳ gần nhất.",
    not_found: "Không tìm thấy trang này.",
    unavailable: "Cơ sở dữ liệu tạm thời không truy cập được; vui lòng thử lại sau.",
    band_excellent: "Xuất sắc",
    band_good: "Tốt",
    band_sufficient: "Đạt",
    band_poor: "Yếu",
    verdict_met: "Đạt",
    verdict_partly: "Đạt một phần",
    verdict_not_met: "Chưa đạt",
    severity_high: "Cao",
    severity_medium: "Trung bình",
    severity_low: "Thấp",
    severity_info: "Thông tin",
    dim_sufficient: "Đủ",
    dim_correct: "Đúng",
    dim_clean: "Sạch",
    dim_alive: "Sống",
    catalog_title: "Danh mục dữ liệu quốc gia",
    catalog_intro: "Các bộ dữ liệu mà các bộ, ngành, địa phương công bố trong danh mục của mình, theo lần thu thập thành công gần nhất.",
    search: "Tìm kiếm",
    kind_label: "Nhóm",
    format: "Định dạng",
    title: "Tên bộ dữ liệu",
    publisher: "Đơn vị công bố",
    modified: "Cập nhật",
    license: "Giấy phép",
    downloads: "Tải về",
    found: "bộ dữ liệu phù hợp",
    previous: "Trang trước",
    next: "Trang sau",
    no_datasets: "Không có bộ dữ liệu nào phù hợp.",
};

pub const EN: Text = Text {
    switch_to: "Tiếng Việt",
    site_title: "Data sharing index",
    national_title: "Data sharing index of the ministries and provinces",
    national_intro: "How well each ministry and province publishes and shares its data, measured automatically against the national targets.",
    no_cycle: "No assessment cycle has finished yet.",
    last_cycle: "Latest assessment",
    attainment: "Attainment of the targets",
    target: "Target",
    goal: "Goal",
    all_agencies: "All",
    ministries: "Ministries",
    provinces: "Provinces",
    ministry: "Ministry",
    province: "Province",
    goal_met: "Goal met",
    goal_not_met: "Goal not met",
    over: "over",
    at_least: "at least",
    forecast: "Forecast",
    forecast_met: "met",
    forecast_reached: "reached on",
    forecast_not_at_pace: "not at the current pace",
    forecast_no_history: "not enough history",
    rankings: "Rankings",
    rank: "Rank",
    agency: "Agency",
    index: "Index",
    band: "Band",
    movement: "Movement",
    movement_new: "new",
    datasets: "Datasets",
    back_to_national: "National rankings",
    rank_overall: "Overall rank",
    rank_in_kind: "Rank in its group",
    targets: "Targets",
    verdict: "Verdict",
    points: "Points",
    parts: "Parts",
    reasons: "Reasons",
    no_reasons: "No points lost.",
    dimensions: "The four quality dimensions",
    history: "Index over time",
    history_chart: "Chart of the index over the assessment cycles",
    rolled_up: "before the merge: mean of the former agencies",
    findings: "Findings",
    no_findings: "No findings.",
    rule: "Rule",
    severity: "Severity",
    dataset: "Dataset or subject",
    subject: "Subject",
    message: "What was found",
    fix: "How to fix it",
    any: "Any",
    filter: "Filter",
    download_csv: "Download CSV",
    shown_of: "shown / total",
    not_scored: "This agency was not scored in the latest cycle.",
    not_found: "There is no such page.",
    unavailable: "The database is not available just now; please try again shortly.",
    band_excellent: "Excellent",
    band_good: "Good",
    band_sufficient: "Sufficient",
    band_poor: "Poor",
    verdict_met: "Met",
    verdict_partly: "Partly met",
    verdict_not_met: "Not met",
    severity_high: "High",
    severity_medium: "Medium",
    severity_low: "Low",
    severity_info: "Info",
    dim_sufficient: "Sufficient",
    dim_correct: "Correct",
    dim_clean: "Clean",
    dim_alive: "Alive",
    catalog_title: "National data catalog",
    catalog_intro: "The datasets the ministries and provinces list in their catalogs, as of each one's latest good harvest.",
    search: "Search",
    kind_label: "Group",
    format: "Format",
    title: "Dataset",
    publisher: "Publisher",
    modified: "Updated",
    license: "License",
    downloads: "Downloads",
    found: "matching datasets",
    previous: "Previous page",
    next: "Next page",
    no_datasets: "No dataset matches.",
};
