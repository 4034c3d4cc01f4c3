//! The report's charts, drawn by `plotters` into SVG strings: latency over
//! time, throughput over time, the staleness histogram and the lost-write
//! fates. Every time chart shades the fault intervals the same way, so a
//! reader can line up a latency spike with the partition that caused it.
//!
//! A chart never fails the report: a drawing error becomes a sentence in
//! its place.

use super::view::{quantile, FaultKind, View};
use crate::history::Outcome;
use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;
use std::collections::BTreeMap;

type Drawn = Result<(), Box<dyn std::error::Error>>;

pub const WIDTH: u32 = 1100;
/// The most points the latency scatter draws; beyond it ok operations are
/// sampled (every k-th), fail and info ones kept up to a third each.
pub const MAX_POINTS: usize = 6000;
/// Time buckets for the quantile lines and the throughput.
const BUCKETS: usize = 60;

pub const OK: RGBColor = RGBColor(46, 157, 79);
pub const FAIL: RGBColor = RGBColor(217, 83, 79);
pub const INFO: RGBColor = RGBColor(240, 160, 48);

pub fn outcome_color(o: Outcome) -> RGBColor {
    match o {
        Outcome::Ok => OK,
        Outcome::Fail => FAIL,
        Outcome::Info => INFO,
    }
}

pub fn fault_color(k: &FaultKind) -> RGBColor {
    match k {
        FaultKind::Partition => RGBColor(120, 120, 220),
        FaultKind::Kill => RGBColor(200, 60, 60),
        FaultKind::Pause => RGBColor(150, 110, 60),
        FaultKind::Started => RGBColor(130, 130, 130),
    }
}

const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// An SVG chart, or why there is none.
pub struct Chart {
    pub svg: String,
    /// Said under the chart: sampling, aggregation.
    pub note: Option<String>,
}

fn render(
    height: u32,
    draw: impl FnOnce(DrawingArea<SVGBackend, plotters::coord::Shift>) -> Drawn,
) -> Result<String, String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        draw(root.clone()).map_err(|e| e.to_string())?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}

/// Fault bands and instant marks over the whole height of a time chart.
fn shade<DB: DrawingBackend, Y: Ranged<ValueType = f64>>(
    chart: &mut ChartContext<DB, Cartesian2d<plotters::coord::types::RangedCoordf64, Y>>,
    view: &View,
    y0: f64,
    y1: f64,
) -> Drawn
where
    DB::ErrorType: 'static,
{
    let mut labelled: Vec<FaultKind> = Vec::new();
    for b in &view.faults {
        let c = fault_color(&b.kind);
        let series = chart.draw_series(std::iter::once(Rectangle::new(
            [(b.start, y0), (b.end.max(b.start), y1)],
            c.mix(0.13).filled(),
        )))?;
        if !labelled.contains(&b.kind) {
            labelled.push(b.kind.clone());
            series.label(b.kind.label()).legend(move |(x, y)| {
                Rectangle::new([(x, y - 5), (x + 14, y + 5)], c.mix(0.35).filled())
            });
        }
    }
    for m in &view.marks {
        chart.draw_series(LineSeries::new(
            [(m.at, y0), (m.at, y1)],
            RGBColor(90, 90, 90).mix(0.5).stroke_width(1),
        ))?;
    }
    Ok(())
}

/// A number in a few characters: 950, 9.5k, 12M.
pub fn compact(y: f64) -> String {
    let a = y.abs();
    if a >= 1e6 {
        format!("{:.1}M", y / 1e6)
    } else if a >= 1e4 {
        format!("{:.0}k", y / 1e3)
    } else if a >= 100.0 || y == y.trunc() {
        format!("{y:.0}")
    } else {
        format!("{y:.1}")
    }
}

/// Picks at most `cap` of `items`, evenly spread.
fn spread<T: Copy>(items: &[T], cap: usize) -> Vec<T> {
    if items.len() <= cap || cap == 0 {
        return items.to_vec();
    }
    (0..cap).map(|i| items[i * items.len() / cap]).collect()
}

/// Latency of each completed operation against its invocation time (log
/// scale), coloured by outcome, with p50/p95/p99 of ok operations per time
/// bucket. Needs timestamps.
pub fn latency(view: &View) -> Result<Chart, String> {
    if !view.timed {
        return Err("the history has no timestamps, so latencies are unknown".into());
    }
    let mut by: BTreeMap<u8, Vec<(f64, f64)>> = BTreeMap::new();
    for s in &view.spans {
        if let Some(l) = s.latency_ms {
            let k = match s.outcome {
                Outcome::Ok => 0,
                Outcome::Fail => 1,
                Outcome::Info => 2,
            };
            by.entry(k).or_default().push((s.start, l.max(0.001)));
        }
    }
    let total: usize = by.values().map(|v| v.len()).sum();
    if total == 0 {
        return Err("no operation completed with a timestamp".into());
    }
    let mut oks: Vec<(f64, f64)> = by.get(&0).cloned().unwrap_or_default();
    let hi = by.values().flatten().map(|p| p.1).fold(0.0, f64::max) * 1.3;
    let lo = by.values().flatten().map(|p| p.1).fold(f64::MAX, f64::min) / 1.3;
    let (lo, hi) = if hi > lo {
        (lo, hi)
    } else {
        (lo / 2.0, lo * 2.0)
    };
    let mut note = None;
    let mut shown: BTreeMap<u8, Vec<(f64, f64)>> = BTreeMap::new();
    if total > MAX_POINTS {
        let mut left = MAX_POINTS;
        for k in [2u8, 1] {
            let v = spread(
                by.get(&k).map(|v| v.as_slice()).unwrap_or(&[]),
                MAX_POINTS / 3,
            );
            left -= v.len();
            shown.insert(k, v);
        }
        shown.insert(0, spread(&oks, left));
        note = Some(format!(
            "{} of {total} completed operations drawn (evenly sampled); the quantile lines use all of them.",
            shown.values().map(|v| v.len()).sum::<usize>()
        ));
    } else {
        shown = by.clone();
    }
    // Quantiles per bucket, over every ok operation.
    oks.sort_by(|a, b| a.0.total_cmp(&b.0));
    let width = view.x_end / BUCKETS as f64;
    let mut lines: [Vec<(f64, f64)>; 3] = [Vec::new(), Vec::new(), Vec::new()];
    let mut i = 0;
    for b in 0..BUCKETS {
        let end = (b + 1) as f64 * width;
        let mut bucket: Vec<f64> = Vec::new();
        while i < oks.len() && (oks[i].0 < end || b + 1 == BUCKETS) {
            bucket.push(oks[i].1);
            i += 1;
        }
        if bucket.is_empty() {
            continue;
        }
        bucket.sort_by(f64::total_cmp);
        let mid = (b as f64 + 0.5) * width;
        for (line, q) in lines.iter_mut().zip([0.5, 0.95, 0.99]) {
            line.push((mid, quantile(&bucket, q)));
        }
    }
    let svg = render(380, |root| {
        let mut chart = ChartBuilder::on(&root)
            .margin(10)
            .x_label_area_size(36)
            .y_label_area_size(64)
            .build_cartesian_2d(0f64..view.x_end, (lo..hi).log_scale())?;
        chart
            .configure_mesh()
            .x_desc(format!("{} since the first event", view.x_unit()))
            .y_desc("latency (ms, log)")
            .light_line_style(RGBColor(235, 235, 235))
            .draw()?;
        shade(&mut chart, view, lo, hi)?;
        for (k, name, color) in [(0u8, "ok", OK), (1, "fail", FAIL), (2, "info", INFO)] {
            let Some(pts) = shown.get(&k) else { continue };
            if pts.is_empty() {
                continue;
            }
            chart
                .draw_series(
                    pts.iter()
                        .map(|&(x, y)| Circle::new((x, y), 2, color.mix(0.55).filled())),
                )?
                .label(name)
                .legend(move |(x, y)| Circle::new((x + 7, y), 3, color.filled()));
        }
        for (line, (name, color)) in lines.iter().zip([
            ("p50", RGBColor(20, 20, 20)),
            ("p95", RGBColor(31, 119, 180)),
            ("p99", RGBColor(148, 50, 160)),
        ]) {
            chart
                .draw_series(LineSeries::new(line.clone(), color.stroke_width(2)))?
                .label(name)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 14, y)], color.stroke_width(2))
                });
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(180, 180, 180))
            .draw()?;
        Ok(())
    })?;
    Ok(Chart { svg, note })
}

/// Completions per second in each time bucket, one line per function and
/// outcome (the eight most frequent).
pub fn throughput(view: &View) -> Result<Chart, String> {
    if !view.timed {
        return Err("the history has no timestamps, so rates are unknown".into());
    }
    let width = view.x_end / BUCKETS as f64;
    let mut series: BTreeMap<(String, &'static str), Vec<usize>> = BTreeMap::new();
    for s in &view.spans {
        if s.complete.is_none() {
            continue;
        }
        let o = match s.outcome {
            Outcome::Ok => "ok",
            Outcome::Fail => "fail",
            Outcome::Info => "info",
        };
        let b = ((s.end / width) as usize).min(BUCKETS - 1);
        series
            .entry((s.f.clone(), o))
            .or_insert_with(|| vec![0; BUCKETS])[b] += 1;
    }
    if series.is_empty() {
        return Err("no operation completed".into());
    }
    let mut ranked: Vec<((String, &str), Vec<usize>)> = series.into_iter().collect();
    ranked.sort_by_key(|(_, v)| std::cmp::Reverse(v.iter().sum::<usize>()));
    let note = (ranked.len() > 8).then(|| {
        format!(
            "the 8 most frequent of {} function/outcome pairs are drawn.",
            ranked.len()
        )
    });
    ranked.truncate(8);
    let rate = |c: usize| c as f64 / (width * view.unit_seconds());
    let hi = ranked
        .iter()
        .flat_map(|(_, v)| v.iter().map(|&c| rate(c)))
        .fold(0.0, f64::max)
        * 1.15;
    let hi = if hi > 0.0 { hi } else { 1.0 };
    let svg = render(340, |root| {
        let mut chart = ChartBuilder::on(&root)
            .margin(10)
            .x_label_area_size(36)
            .y_label_area_size(64)
            .build_cartesian_2d(0f64..view.x_end, 0f64..hi)?;
        chart
            .configure_mesh()
            .x_desc(format!("{} since the first event", view.x_unit()))
            .y_desc("completions per second")
            .y_label_formatter(&|y| compact(*y))
            .light_line_style(RGBColor(235, 235, 235))
            .draw()?;
        shade(&mut chart, view, 0.0, hi)?;
        for (i, ((f, o), counts)) in ranked.iter().enumerate() {
            let color = match *o {
                "ok" => PALETTE[i % PALETTE.len()],
                "fail" => FAIL,
                _ => INFO,
            };
            let style = if *o == "ok" {
                color.stroke_width(2)
            } else {
                color.mix(0.8).stroke_width(1)
            };
            let pts: Vec<(f64, f64)> = counts
                .iter()
                .enumerate()
                .map(|(b, &c)| ((b as f64 + 0.5) * width, rate(c)))
                .collect();
            chart
                .draw_series(LineSeries::new(pts, style))?
                .label(format!("{f} {o}"))
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 14, y)], style));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(180, 180, 180))
            .draw()?;
        Ok(())
    })?;
    Ok(Chart { svg, note })
}

/// A histogram of staleness (ms or events behind), one bar per group in
/// each bin.
pub fn staleness(groups: &BTreeMap<String, Vec<f64>>, unit: &str) -> Result<Chart, String> {
    const BINS: usize = 20;
    let max = groups.values().flatten().copied().fold(0.0, f64::max);
    if groups.is_empty() {
        return Err("no stale reads".into());
    }
    let bin = if max > 0.0 { max / BINS as f64 } else { 1.0 };
    let mut counts: Vec<(&String, Vec<usize>)> = Vec::new();
    for (g, xs) in groups {
        let mut c = vec![0usize; BINS];
        for &x in xs {
            c[((x / bin) as usize).min(BINS - 1)] += 1;
        }
        counts.push((g, c));
    }
    let hi = counts
        .iter()
        .flat_map(|(_, c)| c.iter().copied())
        .max()
        .unwrap_or(1) as f64
        * 1.15;
    let n = counts.len();
    let svg = render(320, |root| {
        let mut chart = ChartBuilder::on(&root)
            .margin(10)
            .x_label_area_size(36)
            .y_label_area_size(56)
            .build_cartesian_2d(0f64..bin * BINS as f64, 0f64..hi.max(1.0))?;
        chart
            .configure_mesh()
            .x_desc(format!("how far behind ({unit})"))
            .y_desc("stale reads")
            .light_line_style(RGBColor(235, 235, 235))
            .draw()?;
        for (i, (g, c)) in counts.iter().enumerate() {
            let color = PALETTE[i % PALETTE.len()];
            let w = bin / n as f64;
            chart
                .draw_series(c.iter().enumerate().filter(|(_, &k)| k > 0).map(|(b, &k)| {
                    let x0 = b as f64 * bin + i as f64 * w;
                    Rectangle::new([(x0, 0.0), (x0 + w * 0.9, k as f64)], color.filled())
                }))?
                .label(g.as_str())
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 12, y + 5)], color.filled())
                });
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(180, 180, 180))
            .draw()?;
        Ok(())
    })?;
    Ok(Chart { svg, note: None })
}

/// One bar per fate (present, stale, lost, ...) with its count.
pub fn fates(counts: &[(String, u64)]) -> Result<Chart, String> {
    if counts.is_empty() {
        return Err("no writes".into());
    }
    let n = counts.len() as u32;
    let hi = counts.iter().map(|c| c.1).max().unwrap_or(1).max(1) as f64 * 1.15;
    let names: Vec<String> = counts.iter().map(|c| c.0.clone()).collect();
    let svg = render(300, |root| {
        let mut chart = ChartBuilder::on(&root)
            .margin(10)
            .x_label_area_size(36)
            .y_label_area_size(64)
            .build_cartesian_2d((0u32..n).into_segmented(), 0f64..hi)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(names.len())
            .x_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) | SegmentValue::Exact(i) => {
                    names.get(*i as usize).cloned().unwrap_or_default()
                }
                SegmentValue::Last => String::new(),
            })
            .y_desc("acknowledged or indeterminate writes")
            .light_line_style(RGBColor(235, 235, 235))
            .draw()?;
        chart.draw_series(counts.iter().enumerate().map(|(i, (name, c))| {
            let color = match name.as_str() {
                "lost" => FAIL,
                "stale" | "recovered" => INFO,
                "present" | "superseded" => OK,
                _ => RGBColor(130, 130, 130),
            };
            let mut r = Rectangle::new(
                [
                    (SegmentValue::Exact(i as u32), 0.0),
                    (SegmentValue::Exact(i as u32 + 1), *c as f64),
                ],
                color.filled(),
            );
            r.set_margin(0, 0, 12, 12);
            r
        }))?;
        chart.draw_series(counts.iter().enumerate().map(|(i, (_, c))| {
            Text::new(
                c.to_string(),
                (SegmentValue::CenterOf(i as u32), *c as f64 + hi * 0.03),
                ("sans-serif", 14).into_font(),
            )
        }))?;
        Ok(())
    })?;
    Ok(Chart { svg, note: None })
}
