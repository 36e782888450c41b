//! The bench's plot: time against size for each tool, as an SVG with one panel for the
//! memory sizes and one for the tree sizes, both axes logarithmic. Each series is the medians
//! joined by a line, each point with a bar from the fastest run to the slowest.

use std::fmt::Write as _;

use crate::bench::Stat;

/// One line of a panel: the measure it takes from each size (`checkpoint`), whose (`criu:`
/// for CRIU's), and how it is drawn.
struct Series {
    what: &'static str,
    criu: bool,
    label: &'static str,
    color: &'static str,
    dashed: bool,
}

const fn series(
    what: &'static str,
    criu: bool,
    label: &'static str,
    color: &'static str,
    dashed: bool,
) -> Series {
    Series {
        what,
        criu,
        label,
        color,
        dashed,
    }
}

/// A panel: the benchmarks named `<prefix><size>`, and the lines drawn of them.
struct Panel {
    prefix: &'static str,
    title: &'static str,
    x_label: &'static str,
    lines: &'static [Series],
}

const PANELS: [Panel; 2] = [
    Panel {
        prefix: "mem",
        title: "A process with all its memory written",
        x_label: "MiB",
        lines: &[
            series("checkpoint", false, "checkpoint", "#1f77b4", false),
            series("restart", false, "restart (file)", "#d62728", false),
            series("restart-pipe", false, "restart (pipe)", "#ff7f0e", false),
            series("restart-map", false, "restart (mapped)", "#9467bd", false),
            series("checkpoint", true, "CRIU dump", "#1f77b4", true),
            series("restart", true, "CRIU restore", "#d62728", true),
            series("copy-out", false, "copy to tmpfs", "#7f7f7f", true),
            series("copy-in", false, "copy from tmpfs", "#2ca02c", true),
        ],
    },
    Panel {
        prefix: "tree",
        title: "A tree of sleeping processes",
        x_label: "processes",
        lines: &[
            series("checkpoint", false, "checkpoint", "#1f77b4", false),
            series("restart", false, "restart", "#d62728", false),
            series("checkpoint", true, "CRIU dump", "#1f77b4", true),
            series("restart", true, "CRIU restore", "#d62728", true),
        ],
    },
];

const W: f64 = 460.0;
const H: f64 = 340.0;
/// Margins: left, right, top, bottom.
const M: (f64, f64, f64, f64) = (60.0, 20.0, 40.0, 130.0);

/// A point: size, median, min, max (seconds).
type Point = (f64, f64, f64, f64);

/// The points of `line` in the panel with `prefix`, by size.
fn points(stats: &[Stat], prefix: &str, line: &Series) -> Vec<Point> {
    let mut out: Vec<Point> = stats
        .iter()
        .filter(|s| s.unit == "s")
        .filter_map(|s| {
            let name = match line.criu {
                true => s.name.strip_prefix("criu:")?,
                false => s.name.as_str(),
            };
            let (bench, what) = name.split_once('.')?;
            let size: f64 = bench.strip_prefix(prefix)?.parse().ok()?;
            (what == line.what && size > 0.0 && s.min() > 0.0)
                .then(|| (size, s.median(), s.min(), s.max()))
        })
        .collect();
    out.sort_by(|a, b| a.0.total_cmp(&b.0));
    out
}

/// Decades that hold `lo..=hi` (logarithms, base 10).
fn decades(lo: f64, hi: f64) -> (f64, f64) {
    let (a, b) = (lo.log10().floor(), hi.log10().ceil());
    (a, if b > a { b } else { a + 1.0 })
}

/// The plot of `stats`, an SVG document; a panel without points is left out.
pub fn svg(stats: &[Stat]) -> String {
    let panels: Vec<(&Panel, Vec<Vec<Point>>)> = PANELS
        .iter()
        .map(|p| {
            (
                p,
                p.lines.iter().map(|l| points(stats, p.prefix, l)).collect(),
            )
        })
        .filter(|(_, pts): &(_, Vec<Vec<Point>>)| pts.iter().any(|l| !l.is_empty()))
        .collect();
    let width = W * panels.len().max(1) as f64;
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{H}\" \
         font-family=\"sans-serif\" font-size=\"11\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
    );
    for (i, (panel, lines)) in panels.iter().enumerate() {
        let _ = writeln!(out, "<g transform=\"translate({})\">", W * i as f64);
        draw(&mut out, panel, lines);
        out.push_str("</g>\n");
    }
    out.push_str("</svg>\n");
    out
}

fn draw(out: &mut String, panel: &Panel, lines: &[Vec<Point>]) {
    let all = || lines.iter().flatten();
    // The sizes measured, with a margin; each labelled where it is.
    let mut sizes: Vec<f64> = all().map(|p| p.0).collect();
    sizes.sort_by(f64::total_cmp);
    sizes.dedup();
    let (lo, hi) = (sizes[0].log10(), sizes[sizes.len() - 1].log10());
    let pad = ((hi - lo) * 0.06).max(0.1);
    let (x0, x1) = (lo - pad, hi + pad);
    let (y0, y1) = decades(
        all().map(|p| p.2).fold(f64::INFINITY, f64::min),
        all().map(|p| p.3).fold(0.0, f64::max),
    );
    let (left, right, top, bottom) = (M.0, W - M.1, M.2, H - M.3);
    let x = |v: f64| left + (v.log10() - x0) / (x1 - x0) * (right - left);
    let y = |v: f64| bottom - (v.log10() - y0) / (y1 - y0) * (bottom - top);
    let _ = writeln!(
        out,
        "<text x=\"{}\" y=\"20\" text-anchor=\"middle\" font-size=\"13\">{}</text>",
        (left + right) / 2.0,
        panel.title
    );
    let _ = writeln!(
        out,
        "<rect x=\"{left}\" y=\"{top}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"black\"/>",
        right - left,
        bottom - top
    );
    // Decade grid lines, labelled.
    for d in (y0 as i32)..=(y1 as i32) {
        let v = 10f64.powi(d);
        let _ = writeln!(
            out,
            "<line x1=\"{left}\" x2=\"{right}\" y1=\"{0:.1}\" y2=\"{0:.1}\" stroke=\"#ddd\"/>\
             <text x=\"{1}\" y=\"{0:.1}\" text-anchor=\"end\" dy=\"4\">{2} s</text>",
            y(v),
            left - 4.0,
            v
        );
    }
    for &v in &sizes {
        let _ = writeln!(
            out,
            "<line x1=\"{0:.1}\" x2=\"{0:.1}\" y1=\"{top}\" y2=\"{bottom}\" stroke=\"#ddd\"/>\
             <text x=\"{0:.1}\" y=\"{1}\" text-anchor=\"middle\">{2}</text>",
            x(v),
            bottom + 14.0,
            v
        );
    }
    let _ = writeln!(
        out,
        "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
        (left + right) / 2.0,
        bottom + 30.0,
        panel.x_label
    );
    for (n, (line, pts)) in panel.lines.iter().zip(lines).enumerate() {
        let dash = if line.dashed {
            " stroke-dasharray=\"5,3\""
        } else {
            ""
        };
        let path: Vec<String> = pts
            .iter()
            .map(|p| format!("{:.1},{:.1}", x(p.0), y(p.1)))
            .collect();
        let _ = writeln!(
            out,
            "<polyline points=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"1.5\"{dash}/>",
            path.join(" "),
            line.color
        );
        for p in pts {
            let _ = writeln!(
                out,
                "<line x1=\"{0:.1}\" x2=\"{0:.1}\" y1=\"{1:.1}\" y2=\"{2:.1}\" stroke=\"{3}\"/>\
                 <circle cx=\"{0:.1}\" cy=\"{4:.1}\" r=\"2.5\" fill=\"{3}\"/>",
                x(p.0),
                y(p.2),
                y(p.3),
                line.color,
                y(p.1)
            );
        }
        // The legend, in two columns below the axis label.
        let (lx, ly) = (
            left + (n % 2) as f64 * 190.0,
            bottom + 48.0 + (n / 2) as f64 * 16.0,
        );
        let _ = writeln!(
            out,
            "<line x1=\"{lx}\" x2=\"{}\" y1=\"{ly}\" y2=\"{ly}\" stroke=\"{}\" stroke-width=\"1.5\"{dash}/>\
             <text x=\"{}\" y=\"{ly}\" dy=\"4\">{}</text>",
            lx + 24.0,
            line.color,
            lx + 30.0,
            line.label
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stat(name: &str, samples: &[f64]) -> Stat {
        Stat {
            name: name.into(),
            unit: "s".into(),
            samples: samples.to_vec(),
        }
    }

    #[test]
    fn points_by_size_for_each_tool() {
        let stats = [
            stat("mem1024.restart", &[4.0, 5.0, 6.0]),
            stat("mem64.restart", &[0.5]),
            stat("criu:mem64.restart", &[0.4]),
            stat("tree10.restart", &[0.02]),
        ];
        let ours = points(&stats, "mem", &PANELS[0].lines[1]);
        assert_eq!(ours, [(64.0, 0.5, 0.5, 0.5), (1024.0, 5.0, 4.0, 6.0)]);
        let criu = points(&stats, "mem", &PANELS[0].lines[5]);
        assert_eq!(criu, [(64.0, 0.4, 0.4, 0.4)]);
        let svg = svg(&stats);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>\n"));
        assert_eq!(svg.matches("<circle").count(), 4);
        assert!(svg.contains("A tree of sleeping processes"));
    }

    #[test]
    fn an_empty_panel_is_left_out() {
        let svg = svg(&[stat("tree10.checkpoint", &[0.02])]);
        assert!(!svg.contains("memory written"));
        assert!(svg.contains("width=\"460\""));
    }
}
