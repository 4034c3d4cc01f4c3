//! The timeline: one row per lane of processes, one bar per operation from
//! invocation to completion, coloured by outcome, with the fault intervals
//! as bands behind them. Hovering a bar shows the operation (an SVG
//! `<title>`, so it works without script).
//!
//! A long history is shown as a window of [`MAX_SPANS`] operations, centred
//! on the operation a checker blamed when there is one: a bar per
//! operation is what makes the timeline readable, and 100 000 bars are
//! neither readable nor small.

use super::view::View;
use maud::{html, Markup};

pub const MAX_SPANS: usize = 3000;
const WIDTH: f64 = 1100.0;
const LEFT: f64 = 130.0;
const RIGHT: f64 = 10.0;
const TOP: f64 = 28.0;
const LANE: f64 = 15.0;

/// A step of 1, 2 or 5 times a power of ten giving about `n` ticks.
pub fn nice_step(range: f64, n: f64) -> f64 {
    if range <= 0.0 || !range.is_finite() {
        return 1.0;
    }
    let raw = range / n;
    let p = 10f64.powf(raw.log10().floor());
    let m = raw / p;
    p * if m < 1.5 {
        1.0
    } else if m < 3.5 {
        2.0
    } else if m < 7.5 {
        5.0
    } else {
        10.0
    }
}

pub fn tick_label(x: f64, step: f64) -> String {
    if step >= 1.0 {
        format!("{x:.0}")
    } else {
        let digits = (-step.log10()).ceil().max(0.0) as usize;
        format!("{x:.digits$}")
    }
}

/// The range of spans shown: all of them, or a window around `focus` (a
/// history position).
pub fn window(view: &View, focus: Option<usize>) -> (usize, usize) {
    let n = view.spans.len();
    if n <= MAX_SPANS {
        return (0, n);
    }
    let centre = focus
        .map(|f| view.spans.partition_point(|s| s.invoke < f))
        .or_else(|| {
            view.faults
                .first()
                .map(|b| view.spans.partition_point(|s| s.start < b.start))
        })
        .unwrap_or(0);
    let lo = centre.saturating_sub(MAX_SPANS / 2).min(n - MAX_SPANS);
    (lo, lo + MAX_SPANS)
}

/// The timeline SVG and, when windowed, a sentence saying what is shown.
pub fn timeline(view: &View, focus: Option<usize>) -> (Markup, Option<String>) {
    let (lo, hi) = window(view, focus);
    let spans = &view.spans[lo..hi];
    let x0 = spans.iter().map(|s| s.start).fold(f64::MAX, f64::min);
    let x1 = spans
        .iter()
        .filter(|s| s.complete.is_some())
        .map(|s| s.end)
        .fold(x0, f64::max);
    let (x0, x1) = if spans.is_empty() {
        (0.0, view.x_end)
    } else if x1 > x0 {
        (x0, x1)
    } else {
        (x0, x0 + 1.0)
    };
    let lanes: Vec<usize> = {
        let mut l: Vec<usize> = spans.iter().map(|s| s.lane).collect();
        l.sort_unstable();
        l.dedup();
        l
    };
    let row = |lane: usize| lanes.binary_search(&lane).unwrap_or(0);
    let plot_w = WIDTH - LEFT - RIGHT;
    let sx = |x: f64| LEFT + (x.clamp(x0, x1) - x0) / (x1 - x0) * plot_w;
    let height = TOP + LANE * lanes.len() as f64 + 38.0;
    let bottom = TOP + LANE * lanes.len() as f64;
    let step = nice_step(x1 - x0, 10.0);
    // Event positions are whole numbers.
    let step = if view.timed { step } else { step.max(1.0) };
    let first_tick = (x0 / step).ceil() * step;
    let ticks: Vec<f64> = (0..)
        .map(|i| first_tick + i as f64 * step)
        .take_while(|&t| t <= x1 + 1e-9)
        .take(40)
        .collect();
    let bands: Vec<_> = view
        .faults
        .iter()
        .filter(|b| b.end >= x0 && b.start <= x1)
        .collect();
    let marks: Vec<_> = view
        .marks
        .iter()
        .filter(|m| m.at >= x0 && m.at <= x1)
        .collect();
    let svg = html! {
        svg.timeline xmlns="http://www.w3.org/2000/svg" width=(WIDTH) height=(height)
            viewBox=(format!("0 0 {WIDTH} {height}")) {
            @for b in &bands {
                rect class=(format!("band {}", b.kind.label())) x=(fmt(sx(b.start))) y=(TOP - 4.0)
                    width=(fmt((sx(b.end) - sx(b.start)).max(1.0))) height=(bottom - TOP + 4.0) {
                    title { (b.text) " (" (fmt(b.start)) "–" (fmt(b.end)) " " (view.x_unit()) ")" }
                }
                text.bandlabel x=(fmt(sx(b.start) + 2.0)) y=(TOP - 8.0) { (b.text) }
            }
            @for m in &marks {
                line.mark x1=(fmt(sx(m.at))) x2=(fmt(sx(m.at))) y1=(TOP - 4.0) y2=(bottom) {
                    title { (m.text) }
                }
            }
            @for (i, lane) in lanes.iter().enumerate() {
                text.lane x=(LEFT - 6.0) y=(TOP + LANE * i as f64 + 11.0) {
                    (view.lanes.get(*lane).map(|s| s.as_str()).unwrap_or(""))
                }
            }
            @for s in spans {
                rect class=(outcome_class(s.outcome)) x=(fmt(sx(s.start))) y=(fmt(TOP + LANE * row(s.lane) as f64 + 1.0))
                    width=(fmt((sx(s.end) - sx(s.start)).max(1.5))) height=(LANE - 3.0) {
                    title { (s.text) }
                }
            }
            line.axis x1=(LEFT) x2=(WIDTH - RIGHT) y1=(bottom + 2.0) y2=(bottom + 2.0) {}
            @for t in &ticks {
                line.axis x1=(fmt(sx(*t))) x2=(fmt(sx(*t))) y1=(bottom + 2.0) y2=(bottom + 6.0) {}
                text.tick x=(fmt(sx(*t))) y=(bottom + 18.0) { (tick_label(*t, step)) }
            }
            text.unit x=(WIDTH - RIGHT) y=(bottom + 32.0) { (view.x_unit()) }
        }
    };
    let note = (hi - lo < view.spans.len()).then(|| {
        format!(
            "Showing operations {}–{} of {} (by invocation){}; the charts below cover the whole history.",
            lo + 1,
            hi,
            view.spans.len(),
            if focus.is_some() {
                ", around the operation the checker blamed"
            } else if !view.faults.is_empty() {
                ", around the first fault"
            } else {
                ""
            }
        )
    });
    (svg, note)
}

pub fn outcome_class(o: crate::history::Outcome) -> &'static str {
    match o {
        crate::history::Outcome::Ok => "ok",
        crate::history::Outcome::Fail => "fail",
        crate::history::Outcome::Info => "info",
    }
}

/// Coordinates with at most two decimals: small files, no visible loss.
pub fn fmt(x: f64) -> String {
    let r = (x * 100.0).round() / 100.0;
    if r == r.trunc() {
        format!("{r:.0}")
    } else {
        format!("{r}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_steps() {
        assert_eq!(nice_step(10.0, 10.0), 1.0);
        assert_eq!(nice_step(8.0, 10.0), 1.0);
        assert_eq!(nice_step(100.0, 10.0), 10.0);
        assert_eq!(nice_step(3.0, 10.0), 0.2);
        assert_eq!(tick_label(0.4, 0.2), "0.4");
        assert_eq!(tick_label(20.0, 10.0), "20");
        assert_eq!(fmt(1.234), "1.23");
        assert_eq!(fmt(2.0), "2");
    }
}
