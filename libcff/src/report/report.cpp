// The training report: CSV files and one self-contained HTML page with inline SVG plots.
#include <cmath>
#include <filesystem>
#include <iomanip>
#include <limits>
#include <sstream>

#include "cff/diagnostics.hpp"
#include "../io/files.hpp"
#include "cff/error.hpp"

namespace cff {
namespace {

const char* const kColors[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                               "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
const char* color(size_t i) { return kColors[i % 10]; }

std::string escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

std::string num(double v, int precision = 6) {
  if (!std::isfinite(v)) return "nan";
  std::ostringstream o;
  o << std::setprecision(precision) << v;
  return o.str();
}

struct Series {
  std::string name;
  std::vector<double> x, y;
  bool dashed = false;
  std::string color;
};

// A line chart with axes, ticks and a legend; points are marked.
std::string line_chart(const std::string& title, const std::string& xlabel, const std::string& ylabel,
                       const std::vector<Series>& series, bool integer_x) {
  const double W = 460, H = 280, left = 60, right = 130, top = 30, bottom = 45;
  double x0 = std::numeric_limits<double>::infinity(), x1 = -x0, y0 = x0, y1 = -x0;
  for (const auto& s : series)
    for (size_t i = 0; i < s.x.size(); ++i) {
      if (!std::isfinite(s.y[i])) continue;
      x0 = std::min(x0, s.x[i]), x1 = std::max(x1, s.x[i]), y0 = std::min(y0, s.y[i]), y1 = std::max(y1, s.y[i]);
    }
  std::ostringstream o;
  o << "<svg xmlns='http://www.w3.org/2000/svg' width='" << W << "' height='" << H << "' font-family='sans-serif' "
    << "font-size='11'><text x='" << W / 2 << "' y='16' text-anchor='middle' font-weight='bold'>" << escape(title)
    << "</text>";
  if (!std::isfinite(x0)) return o.str() + "<text x='20' y='60'>no data</text></svg>";
  if (x1 == x0) x0 -= 0.5, x1 += 0.5;
  if (y1 == y0) y0 -= 0.5, y1 += 0.5;
  const double pad = 0.05 * (y1 - y0);
  y0 -= pad, y1 += pad;
  const double pw = W - left - right, ph = H - top - bottom;
  auto px = [&](double x) { return left + (x - x0) / (x1 - x0) * pw; };
  auto py = [&](double y) { return top + (1 - (y - y0) / (y1 - y0)) * ph; };
  o << "<rect x='" << left << "' y='" << top << "' width='" << pw << "' height='" << ph
    << "' fill='none' stroke='#444'/>";
  for (int t = 0; t <= 4; ++t) {
    const double y = y0 + (y1 - y0) * t / 4;
    o << "<line x1='" << left - 4 << "' x2='" << left + pw << "' y1='" << py(y) << "' y2='" << py(y)
      << "' stroke='#ddd'/><text x='" << left - 6 << "' y='" << py(y) + 4 << "' text-anchor='end'>" << num(y, 3)
      << "</text>";
  }
  const int xt = integer_x ? int(std::min(x1 - x0, 8.0)) : 4;
  for (int t = 0; t <= xt; ++t) {
    double x = x0 + (x1 - x0) * t / std::max(xt, 1);
    if (integer_x) x = std::round(x);
    o << "<text x='" << px(x) << "' y='" << top + ph + 15 << "' text-anchor='middle'>" << num(x, 4) << "</text>";
  }
  o << "<text x='" << left + pw / 2 << "' y='" << H - 8 << "' text-anchor='middle'>" << escape(xlabel) << "</text>"
    << "<text transform='translate(14," << top + ph / 2 << ") rotate(-90)' text-anchor='middle'>" << escape(ylabel)
    << "</text>";
  for (size_t k = 0; k < series.size(); ++k) {
    const auto& s = series[k];
    std::ostringstream pts;
    for (size_t i = 0; i < s.x.size(); ++i)
      if (std::isfinite(s.y[i])) pts << px(s.x[i]) << "," << py(s.y[i]) << " ";
    o << "<polyline fill='none' stroke='" << s.color << "' stroke-width='2'" << (s.dashed ? " stroke-dasharray='5,3'" : "")
      << " points='" << pts.str() << "'/>";
    for (size_t i = 0; i < s.x.size(); ++i)
      if (std::isfinite(s.y[i]))
        o << "<circle cx='" << px(s.x[i]) << "' cy='" << py(s.y[i]) << "' r='2.5' fill='" << s.color << "'><title>"
          << escape(s.name) << ": " << num(s.y[i]) << "</title></circle>";
    const double ly = top + 12 + 15 * double(k);
    o << "<line x1='" << left + pw + 10 << "' x2='" << left + pw + 30 << "' y1='" << ly - 4 << "' y2='" << ly - 4
      << "' stroke='" << s.color << "' stroke-width='2'" << (s.dashed ? " stroke-dasharray='5,3'" : "")
      << "/><text x='" << left + pw + 34 << "' y='" << ly << "'>" << escape(s.name) << "</text>";
  }
  return o.str() + "</svg>";
}

std::string scatter(const std::string& title, const torch::Tensor& xy, const torch::Tensor& labels,
                    const std::vector<std::string>& names) {
  const double S = 300, m = 20;
  std::ostringstream o;
  o << "<svg xmlns='http://www.w3.org/2000/svg' width='" << S << "' height='" << S + 20
    << "' font-family='sans-serif' font-size='11'><text x='" << S / 2
    << "' y='14' text-anchor='middle' font-weight='bold'>" << escape(title) << "</text><rect x='" << m << "' y='"
    << m + 4 << "' width='" << S - 2 * m << "' height='" << S - 2 * m << "' fill='none' stroke='#444'/>";
  const auto p = xy.to(torch::kDouble).contiguous();
  const double* d = p.data_ptr<double>();
  const int64_t n = p.size(0);
  double lo[2] = {1e300, 1e300}, hi[2] = {-1e300, -1e300};
  for (int64_t i = 0; i < n; ++i)
    for (int k = 0; k < 2; ++k) lo[k] = std::min(lo[k], d[2 * i + k]), hi[k] = std::max(hi[k], d[2 * i + k]);
  for (int k = 0; k < 2; ++k)
    if (hi[k] - lo[k] < 1e-12) lo[k] -= 1, hi[k] += 1;
  const auto l = labels.contiguous();
  for (int64_t i = 0; i < n; ++i) {
    const int64_t c = l.data_ptr<int64_t>()[i];
    const double x = m + 3 + (d[2 * i] - lo[0]) / (hi[0] - lo[0]) * (S - 2 * m - 6);
    const double y = m + 7 + (1 - (d[2 * i + 1] - lo[1]) / (hi[1] - lo[1])) * (S - 2 * m - 6);
    o << "<circle cx='" << num(x, 5) << "' cy='" << num(y, 5) << "' r='1.8' fill='" << color(size_t(c))
      << "' fill-opacity='0.7'><title>" << escape(size_t(c) < names.size() ? names[size_t(c)] : std::to_string(c))
      << "</title></circle>";
  }
  return o.str() + "</svg>";
}

std::string class_name(const std::vector<std::string>& names, int64_t c) {
  return size_t(c) < names.size() ? names[size_t(c)] : std::to_string(c);
}

}  // namespace

void write_report(const std::string& dir, const Diagnostics& diag, const std::vector<EpochRecord>& history,
                  const Config& config, const std::string& title) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(dir, ec);
  CFF_CHECK_CODE(fs::is_directory(dir), ErrorCode::kIo, dir, ": cannot create folder (", ec.message(), ")");
  const fs::path root(dir);
  const auto& names = diag.class_names;

  // ---- CSV -----------------------------------------------------------------------------------------
  std::ostringstream layers;
  layers << "layer,fisher,margin,band_share,cos_same,cos_diff,pca_var1,pca_var2,samples\n";
  for (const auto& d : diag.layers)
    layers << d.layer + 1 << "," << num(d.fisher, 9) << "," << num(d.margin) << "," << num(d.band_share, 9) << ","
           << num(d.cos_same, 9) << "," << num(d.cos_diff, 9) << "," << num(d.explained[0]) << ","
           << num(d.explained[1]) << "," << diag.samples << "\n";
  std::ostringstream hist;
  hist << "stage,epoch,layer,train_loss,val_loss,best\n";
  for (const auto& r : history)
    for (size_t l = 0; l < r.train_loss.size(); ++l)
      hist << r.stage << "," << r.epoch << "," << (r.stage == 1 ? std::to_string(l + 1) : std::string("head")) << ","
           << num(r.train_loss[l], 9) << "," << (l < r.val_loss.size() ? num(r.val_loss[l], 9) : std::string(""))
           << "," << (r.best ? 1 : 0) << "\n";
  std::ostringstream proj;
  proj << "layer,index,label,class,x,y\n";
  for (const auto& d : diag.layers) {
    const auto p = d.projection.contiguous();
    for (int64_t i = 0; i < p.size(0); ++i) {
      const int64_t c = diag.labels[i].item<int64_t>();
      proj << d.layer + 1 << "," << i << "," << c << "," << csv_field(class_name(names, c)) << ","
           << num(p[i][0].item<double>()) << "," << num(p[i][1].item<double>()) << "\n";
    }
  }

  // ---- HTML ----------------------------------------------------------------------------------------
  std::ostringstream h;
  h << "<!DOCTYPE html><html><head><meta charset='utf-8'><title>" << escape(title)
    << "</title><style>body{font-family:sans-serif;margin:20px;max-width:1400px}"
       "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}"
       ".row{display:flex;flex-wrap:wrap;gap:12px}code{background:#f4f4f4}</style></head><body>"
    << "<h1>" << escape(title) << "</h1><p>Model: <code>" << to_string(config.model.arch) << "["
    << config.model.embed_dim << " " << config.model.num_layers << "]</code>, algorithm <code>"
    << to_string(config.train.algorithm) << "</code>, loss <code>" << escape(config.loss_spec().empty() ? "cross-entropy" : config.loss_spec())
    << "</code>, input " << config.model.channels << "x" << config.model.height << "x" << config.model.width << ", "
    << config.model.num_classes << " classes. Diagnostics on " << diag.samples << " held-out images.</p>";

  // Losses per epoch.
  h << "<h2>Loss per epoch</h2><p>Solid: training loss; dashed: validation loss. Stage 1 shows every "
       "layer's local loss; stage 2 the head's cross-entropy.</p><div class='row'>";
  for (int64_t stage : {1, 2}) {
    std::vector<Series> series;
    size_t layers_n = 0;
    for (const auto& r : history)
      if (r.stage == stage) layers_n = std::max(layers_n, r.train_loss.size());
    for (size_t l = 0; l < layers_n; ++l) {
      Series tr, va;
      tr.name = stage == 1 ? "layer " + std::to_string(l + 1) : "head";
      va.name = tr.name + " (val)";
      tr.color = va.color = color(l);
      va.dashed = true;
      for (const auto& r : history) {
        if (r.stage != stage || l >= r.train_loss.size()) continue;
        tr.x.push_back(double(r.epoch));
        tr.y.push_back(r.train_loss[l]);
        if (l < r.val_loss.size()) va.x.push_back(double(r.epoch)), va.y.push_back(r.val_loss[l]);
      }
      series.push_back(tr);
      if (!va.x.empty()) series.push_back(va);
    }
    if (!series.empty())
      h << line_chart(stage == 1 ? "Stage 1: local loss per layer" : "Stage 2: head cross-entropy", "epoch", "loss",
                      series, true);
  }
  if (history.empty()) h << "<p>No training history in this model.</p>";
  h << "</div>";

  // Per-layer statistics.
  std::vector<double> xs, fisher, same, diff, band;
  for (const auto& d : diag.layers) {
    xs.push_back(double(d.layer + 1));
    fisher.push_back(d.fisher);
    same.push_back(d.cos_same);
    diff.push_back(d.cos_diff);
    band.push_back(d.band_share);
  }
  h << "<h2>Layer by layer</h2><p>Fisher criterion tr(S<sub>W</sub><sup>-1</sup>S<sub>B</sub>) of the "
       "L2-normalised pooled representation (ridge "
    << num(diag.ridge) << "&middot;tr(S<sub>W</sub>)/D on S<sub>W</sub>); mean cosine similarity of same-class and "
       "different-class pairs; share of positive pairs inside the margin band (cosine &ge; 1 &minus; m<sub>l</sub>)."
       "</p><div class='row'>"
    << line_chart("Fisher criterion", "layer", "tr(Sw^-1 Sb)", {{"Fisher", xs, fisher, false, color(0)}}, true)
    << line_chart("Mean cosine similarity", "layer", "cosine",
                  {{"same class", xs, same, false, color(2)}, {"different class", xs, diff, true, color(3)}}, true)
    << line_chart("Positive pairs in the margin band", "layer", "share",
                  {{"share", xs, band, false, color(4)}}, true)
    << "</div><table><tr><th>layer</th><th>Fisher</th><th>margin m</th><th>band share</th><th>cos same</th>"
       "<th>cos diff</th><th>PCA var 1</th><th>PCA var 2</th></tr>";
  for (const auto& d : diag.layers)
    h << "<tr><td>" << d.layer + 1 << "</td><td>" << num(d.fisher, 5) << "</td><td>" << num(d.margin, 3)
      << "</td><td>" << num(d.band_share, 4) << "</td><td>" << num(d.cos_same, 4) << "</td><td>"
      << num(d.cos_diff, 4) << "</td><td>" << num(d.explained[0], 3) << "</td><td>" << num(d.explained[1], 3)
      << "</td></tr>";
  h << "</table>";

  // Projections.
  h << "<h2>2-D PCA projection of each layer</h2><p>Points are held-out images, coloured by class; each plot "
       "uses that layer's two main axes (share of variance in the title).</p><p>";
  int64_t classes = std::max<int64_t>(config.model.num_classes, int64_t(names.size()));
  for (int64_t c = 0; c < classes; ++c)
    h << "<span style='color:" << color(size_t(c)) << "'>&#9679;</span> " << escape(class_name(names, c)) << " &nbsp; ";
  if (classes > 10) h << "(colours repeat after 10 classes)";
  h << "</p><div class='row'>";
  for (const auto& d : diag.layers)
    h << scatter("layer " + std::to_string(d.layer + 1) + " (" + num(100 * d.explained[0], 3) + "% + " +
                     num(100 * d.explained[1], 3) + "%)",
                 d.projection, diag.labels, names);
  h << "</div><p>Files: layers.csv, history.csv, projection.csv.</p></body></html>\n";

  detail::write_file_atomically((root / "layers.csv").string(), layers.str());
  detail::write_file_atomically((root / "history.csv").string(), hist.str());
  detail::write_file_atomically((root / "projection.csv").string(), proj.str());
  detail::write_file_atomically((root / "report.html").string(), h.str());
}

}  // namespace cff
