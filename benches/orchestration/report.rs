//! The figures: each the median of repeated runs with its spread, printed as a table and
//! written to `target/bench/orchestration.json`.

use std::time::Duration;

use serde_json::json;

use crate::daemon::bench_dir;
use crate::Sizes;

#[derive(Debug, Clone, Copy)]
pub enum Target {
    AtMost(f64),
    AtLeast(f64),
}

impl Target {
    fn met(self, value: f64) -> bool {
        match self {
            Target::AtMost(limit) => value <= limit,
            Target::AtLeast(floor) => value >= floor,
        }
    }

    fn text(self) -> String {
        match self {
            Target::AtMost(limit) => format!("≤ {}", number(limit)),
            Target::AtLeast(floor) => format!("≥ {}", number(floor)),
        }
    }
}

struct Figure {
    group: &'static str,
    name: String,
    unit: &'static str,
    samples: Vec<f64>,
    target: Option<Target>,
    note: String,
}

impl Figure {
    fn median(&self) -> f64 {
        let mut sorted = self.samples.clone();
        sorted.sort_by(f64::total_cmp);
        match sorted.len() {
            0 => f64::NAN,
            n if n % 2 == 1 => sorted[n / 2],
            n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
        }
    }

    fn spread(&self) -> (f64, f64) {
        let min = self.samples.iter().copied().fold(f64::INFINITY, f64::min);
        let max = self
            .samples
            .iter()
            .copied()
            .fold(f64::NEG_INFINITY, f64::max);
        (min, max)
    }
}

#[derive(Default)]
pub struct Report {
    figures: Vec<Figure>,
}

impl Report {
    pub fn add(
        &mut self,
        group: &'static str,
        name: &str,
        unit: &'static str,
        samples: Vec<f64>,
        target: Option<Target>,
        note: &str,
    ) {
        let figure = Figure {
            group,
            name: name.to_string(),
            unit,
            samples,
            target,
            note: note.to_string(),
        };
        eprintln!(
            "{} / {}: {} {}",
            figure.group,
            figure.name,
            number(figure.median()),
            figure.unit
        );
        self.figures.push(figure);
    }

    pub fn finish(&self, sizes: &Sizes) {
        println!();
        row([
            "group",
            "figure",
            "median",
            "spread (min–max)",
            "unit",
            "target",
            "met",
        ]);
        let mut figures = Vec::new();
        for f in &self.figures {
            let median = f.median();
            let (min, max) = f.spread();
            let met = f.target.map(|t| t.met(median));
            row([
                f.group,
                &f.name,
                &number(median),
                &format!("{}–{}", number(min), number(max)),
                f.unit,
                &f.target.map(Target::text).unwrap_or_default(),
                match met {
                    Some(true) => "yes",
                    Some(false) => "NO",
                    None => "",
                },
            ]);
            figures.push(json!({
                "group": f.group,
                "name": f.name,
                "unit": f.unit,
                "median": median,
                "min": min,
                "max": max,
                "samples": f.samples,
                "target": f.target.map(Target::text),
                "met": met,
                "note": f.note,
            }));
        }
        let document = json!({
            "quick": sizes.quick,
            "runs": sizes.runs,
            "cpus": std::thread::available_parallelism().map_or(0, |n| n.get()),
            "cpu": cpu_model(),
            "unix_time": std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            "figures": figures,
        });
        let path = bench_dir().join("orchestration.json");
        std::fs::create_dir_all(bench_dir()).expect("target/bench");
        std::fs::write(&path, serde_json::to_string_pretty(&document).unwrap())
            .expect("writing the results");
        println!("\nwritten to {}", path.display());
    }
}

fn row([group, name, median, spread, unit, target, met]: [&str; 7]) {
    println!("{group:<11} {name:<52} {median:>10} {spread:>21} {unit:<9} {target:<9} {met}");
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|m| m.trim_start_matches([' ', '\t', ':']).to_string())
        .unwrap_or_default()
}

pub fn number(value: f64) -> String {
    if !value.is_finite() {
        "-".into()
    } else if value.abs() >= 100.0 {
        format!("{value:.0}")
    } else if value.abs() >= 10.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    }
}

pub fn percentile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

pub fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
