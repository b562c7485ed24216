// apps/report.h -- what `dlbhc eval` and `dlbhc query` write for people: tables, JSON, an SVG plot
// of precision@k, and HTML pages with thumbnails. Every file is written atomically, and a page's
// folder of pictures appears whole or not at all (HtmlPageWriter).
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "data/dataset.h"
#include "data/image.h"
#include "io/file_io.h"
#include "search/eval.h"
#include "search/index_file.h"

namespace dlbhc {

// Writes text to path through the atomic writer (temporary file, fsync, rename).
void write_text_atomic(const std::string& path, const std::string& text, const char* what);

std::string html_escape(const std::string& s);
std::string json_escape(const std::string& s);  // the contents of a JSON string, without quotes
// A name as one field of a line-based text output (encode's "name<TAB>label<TAB>code" lines,
// query's table): a backslash becomes \\, a tab \t, a newline \n, a carriage return \r and any
// other control byte (below 0x20, or 0x7f) \xHH, so that a name can neither split a line or a
// field nor send escape sequences to a terminal. Other bytes are kept as they are.
std::string line_field_escape(const std::string& s);
// The help text's sentence about it.
extern const char* const kLineEscapeHelp;

// A picture of rows of thumbnails: each cell an image (grey or BGR, any size, scaled by nearest
// neighbour into a square of `cell` pixels) inside a coloured frame. Colours are BGR.
struct MontageCell {
    const Image* image = nullptr;  // null: an empty cell
    uint8_t frame[3] = {255, 255, 255};
};
Image montage(const std::vector<std::vector<MontageCell>>& rows, int cell = 56, int frame = 3);

// One line of a precision@k plot: a name and (k, precision) points, k ascending.
struct PlotSeries {
    std::string name;
    std::vector<std::pair<double, double>> points;
};
// A self-contained SVG (log-scale k axis, precision 0..1 axis, legend).
std::string svg_precision_plot(const std::vector<PlotSeries>& series, const std::string& title);
// Several such plots side by side in one SVG, each with its title.
struct PlotPanel {
    std::string title;
    std::vector<PlotSeries> series;
};
std::string svg_precision_panels(const std::vector<PlotPanel>& panels);

// An HTML page and the folder of files beside it: for "out/r.html", dir "out" and files
// "r_files" (relative to dir, as the page links it). The folder's files go to a temporary folder
// (AtomicDirWriter), the page to a temporary file; commit() renames the folder into place, then
// the page. A failure before commit (a picture that cannot be saved, a full disk, a crash) leaves
// the previous page and folder, if any, as they were, and no partial folder.
class HtmlPageWriter {
public:
    // The page's folder is made (mkdir -p) if missing, and removed again if the page is never
    // committed; `what` names the page in errors.
    HtmlPageWriter(const std::string& html_path, const char* what);
    // Saves a picture (PNG) in the folder; returns its link from the page ("r_files/<name>").
    std::string image_file(const std::string& name, const Image& im);
    // The same, counted in pictures() (the thumbnails).
    std::string picture(const std::string& name, const Image& im);
    // Saves a text file in the folder; returns its link from the page.
    std::string text_file(const std::string& name, const std::string& text, const char* what);
    void commit(const std::string& page);
    const std::string& dir() const { return dir_; }
    const std::string& files() const { return files_; }
    size_t pictures() const { return pictures_; }  // picture() calls so far

private:
    std::string html_, what_, dir_, files_;
    std::unique_ptr<AtomicDirWriter> folder_;
    size_t pictures_ = 0;
};

// The folder of pictures beside the page `html_path`, "<dir>/<stem>_files" ("out/report.html" ->
// "out/report_files"; a stem without ".html" is kept whole), as HtmlPageWriter makes it. Creates
// nothing.
std::string page_files_path(const std::string& html_path);

// Before any work, what HtmlPageWriter and its command would otherwise find wrong after it: the
// page `html` can be written (check_output_path), its picture folder "<stem>_files" can be
// replaced (check_replaced_folder: not a file, holding only pictures and plots; names that fit)
// and holds neither an input (which it would delete) nor one of the command's other outputs
// `others` (--json, --svg: written first, then deleted with the folder or making the page fail).
// Throws std::invalid_argument naming the option and the path.
void check_html_page(const std::string& html, const std::vector<NamedPath>& others, const std::vector<NamedPath>& inputs);

// The picture of database item `index` into the image; false when there is none.
using DbPicture = std::function<bool(uint32_t index, Image& img)>;
// Database pictures from `ds` (the dataset the index was built from) when given, else from the
// item names of `db` read as image files (at most max_pixels pixels). `ds` and `db` must outlive it.
DbPicture db_pictures(const Dataset* ds, const IndexFile& db, uint64_t max_pixels);

// ---- `dlbhc eval` ----

// What `dlbhc eval` measured for one query set, for its table, JSON, plot and page. The modes
// are the paper's: BCS (the whole Hamming ranking, "coarse"), HDS (coarse + fine), ES
// (exhaustive Euclidean search on the same net's features) and the baseline (ES on another
// net's features).
struct EvalSummary {
    size_t queries = 0, database = 0;
    int bits = 0, K = 0, radius = 0, threshold = 0;
    std::string label;           // the query set's label ("" when --queries was given once without one)
    std::string index_path, queries_source, net_path, weights_path;
    size_t own_items = 0;        // queries whose own database item was left out of their ranking
    std::vector<size_t> ks;      // the P@k points, ascending (those <= K of the plot's)
    bool bcs = true;             // the whole Hamming ranking ran (BCS):
    EvalReport coarse;           //   its metrics
    bool fine = false;           // the coarse + fine stage (HDS) ran:
    EvalReport reranked;         //   its mAP@K and P@k (evaluate_ranked_lists)
    double mean_pool = 0;        //   mean candidates re-ranked per query
    size_t widened = 0;          //   queries whose pool was widened to K
    bool es = false;             // exhaustive search on the features (ES) ran:
    EvalReport exhaustive;       //   its mAP@K and P@k
    int feature_dim = 0;
    bool baseline = false;       // ES on another net's features ran:
    EvalReport baseline_report;  //   its mAP@K and P@k
    std::string baseline_net, baseline_weights, baseline_source;  // the net, weights, where the database features came from
    int baseline_dim = 0;
    double near_binary = 0;      // share of the queries' latent outputs within 0.1 of 0 or 1
    double t_encode = 0, t_coarse = 0, t_fine = 0, t_es = 0;  // seconds for all queries
    double t_baseline_encode = 0, t_baseline = 0;           // the baseline's query encoding and search
};
// The metrics table and conventions, on stdout.
void print_eval_table(const EvalSummary& s);
// One query set: an object; several: {"query_sets": [...]}.
std::string eval_json(const std::vector<EvalSummary>& sets);
std::vector<PlotSeries> eval_plot_series(const EvalSummary& s);
std::string eval_plot_title(const EvalSummary& s);
// The plot of every query set, one panel each, side by side (as the paper's figure).
std::string eval_plot_svg(const std::vector<EvalSummary>& sets);

// A result shown as a thumbnail: database index, label, name, and a note for its tooltip.
struct ShownResult {
    uint32_t index = 0;
    int label = 0;
    std::string name, note;
};
// A query shown on the report page: its rows ("coarse", "coarse + fine") of top results.
struct ShownQuery {
    size_t query = 0;
    int label = 0;
    std::vector<std::pair<std::string, std::vector<ShownResult>>> rows;
};
// The report page: metrics, plot (saved in the folder) and the shown queries as thumbnails
// (saved in the folder, with all rows as one picture, examples.png). query_picture(q, img) gives
// query q's image. `missing` counts database pictures that could not be shown.
// Every query set's table is shown, and the shown queries are those of the first set.
std::string eval_html_page(const std::vector<EvalSummary>& sets, const std::vector<ShownQuery>& shown,
                           const std::function<void(size_t, Image&)>& query_picture, const DbPicture& db_picture,
                           HtmlPageWriter& w, size_t& missing);

// ---- `dlbhc query` ----

struct QueryHit {
    uint32_t index = 0, hamming = 0;
    float euclid = -1;  // < 0: coarse only
    int label = 0;
    std::string name;
};
struct QueryResults {
    std::string name;   // the query image's name
    int label = -1;     // -1: unknown (an image file)
    std::string code;   // hex, bit 0 rightmost (code_hex)
    bool fine = false;  // coarse + fine (else coarse only)
    size_t pool = 0;    // candidates re-ranked
    std::vector<QueryHit> hits;
};
// A code as hex digits, bit 0 rightmost: (bits + 3) / 4 digits. code holds `words` words.
std::string code_hex(const uint64_t* code, int words, int bits);
void print_query_json(const QueryResults& r);   // on stdout
void print_query_table(const QueryResults& r);  // on stdout
// The page: the query and its results as thumbnails (saved in the folder). When no result has a
// picture, the results are listed as a table under a note saying `no_pictures` (why).
std::string query_html_page(const QueryResults& r, const Image& query, const DbPicture& db_picture, HtmlPageWriter& w,
                            const std::string& no_pictures);

}  // namespace dlbhc
