// apps/report.h -- what `dlbhc eval` and `dlbhc query` write for people: JSON, an SVG plot of
// precision@k, and HTML pages with thumbnails. Every file is written atomically.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "data/image.h"

namespace dlbhc {

// Writes text to path through the atomic writer (temporary file, fsync, rename).
void write_text_atomic(const std::string& path, const std::string& text, const char* what);

std::string html_escape(const std::string& s);
std::string json_escape(const std::string& s);  // the contents of a JSON string, without quotes

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

}  // namespace dlbhc
