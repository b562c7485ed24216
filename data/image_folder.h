// data/image_folder.h -- datasets of JPEG/PNG files: a folder per class, or a Caffe list file.
//
// Folder layout (as torchvision's ImageFolder):   root/<class>/<image>.{jpg,jpeg,jpe,png}
//   classes are the subfolders of root sorted by name (byte order), labelled 0..K-1; inside a
//   class folder, files are taken in name order; names starting with '.' are skipped; other
//   extensions, nested folders and files directly in root are ignored (counted in the report).
// List file (Caffe's ImageData / convert_imageset format): one "<path> <label>" per line; the label
//   is the text after the last space or tab, so paths may contain spaces; relative paths are
//   resolved against `root` (the list file's folder when root is empty). Blank lines are skipped
//   and reported; any other malformed line is an error naming the line number.
// Every image is probed at load time (header only, stbi_info): a file that is missing, not a
// JPEG/PNG, corrupt in its header or above the pixel limit is skipped and reported by path, or
// is an error in strict mode. Which items exist is therefore decided at load time and does not
// depend on timing. Pixels are decoded lazily in item(), always as 3 channels BGR (grey copied);
// a decode that fails there (a file damaged after its header, or changed since loading) throws
// std::runtime_error naming the path. Options.verify decodes every image at load time instead, so
// that damaged files are skipped up front (costs one full decode of the dataset).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "data/image_io.h"

namespace dlbhc {

struct ImageFolderOptions {
    bool strict = false;  // an unreadable image is an error instead of being skipped
    bool verify = false;  // decode every image at load time, not only its header
    uint64_t max_pixels = kDefaultMaxPixels;
};

struct LoadReport {
    size_t skipped = 0;  // images left out: unreadable, not JPEG/PNG, corrupt, too large
    size_t ignored = 0;  // folder mode: entries that are not candidate images (see the file comment)
    // One line per skipped image ("<path>: <reason>") and per blank list line ("<list>:<line>: blank line").
    std::vector<std::string> messages;
};

// The largest label a list file may give (the class count is the largest label + 1, and a
// classifier has one output per class).
constexpr int kMaxListLabel = (1 << 24) - 1;

// One "<path> <label>" line of a list file; path already joined to the base folder.
struct ListEntry {
    std::string path;
    int label;
};

// Parses the `size` bytes of a list file named `list_file` (see the file comment); relative paths
// are joined to `base`. Blank lines are skipped with a message in `rep`. Throws
// std::runtime_error naming the file and line for a malformed line, a zero byte, a label above
// kMaxListLabel, or a file with no entry. Touches no image.
std::vector<ListEntry> parse_image_list(const uint8_t* data, size_t size, const std::string& list_file,
                                        const std::string& base, LoadReport& rep);

// The candidate images of a folder dataset `root` (see the file comment), in order, each with its
// class's label, and the class names (sorted; index = label). Touches no image. Throws
// std::runtime_error when root is not a folder or a folder cannot be listed.
struct FolderListing {
    std::vector<std::string> classes;
    std::vector<ListEntry> images;
    size_t ignored = 0;  // entries that are not candidate images
};
FolderListing list_image_folder(const std::string& root);

class ImageFolderDataset : public Dataset {
public:
    // Throws std::runtime_error when root is not a folder, has no class subfolder, or no readable
    // image is found; in strict mode also for the first unreadable image. `report` may be null.
    static std::unique_ptr<ImageFolderDataset> from_folder(const std::string& root, const ImageFolderOptions& opt = {},
                                                           LoadReport* report = nullptr);
    // Throws std::runtime_error naming the list file and line for a malformed line, and as above.
    static std::unique_ptr<ImageFolderDataset> from_list(const std::string& list_file, const std::string& root = "",
                                                         const ImageFolderOptions& opt = {},
                                                         LoadReport* report = nullptr);

    size_t size() const override { return entries_.size(); }
    int num_classes() const override { return num_classes_; }
    int channels() const override { return 3; }
    int height() const override { return common_h_; }  // 0 when the images differ in size
    int width() const override { return common_w_; }
    void item(size_t i, Image& out) const override;
    int label(size_t i) const override;
    std::string name(size_t i) const override;  // the image's path

    // Folder mode: the class folder names, index = label. List mode: empty.
    const std::vector<std::string>& class_names() const { return class_names_; }
    // The header of item i as probed at load time.
    const ImageInfo& info(size_t i) const;

private:
    struct Entry {
        std::string path;
        int label;
        ImageInfo info;
    };
    struct Candidate {
        std::string path;
        int label;
    };
    ImageFolderDataset() = default;
    // Probes (and with verify, decodes) the candidates in parallel, then keeps the good ones in order.
    void admit(const std::vector<Candidate>& cands, const ImageFolderOptions& opt, LoadReport& rep,
               const std::string& source);
    void check_index(size_t i) const;

    std::vector<Entry> entries_;
    std::vector<std::string> class_names_;
    int num_classes_ = 0;
    int common_h_ = 0, common_w_ = 0;
    uint64_t max_pixels_ = kDefaultMaxPixels;
};

}  // namespace dlbhc
