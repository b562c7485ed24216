// apps/args.cpp
#include <cmath>
#include "apps/args.h"

#include <algorithm>

namespace dlbhc {

Args::Args(const std::vector<std::string>& argv, const std::vector<std::string>& options,
           const std::vector<std::string>& flags) {
    auto known = [](const std::vector<std::string>& v, const std::string& s) {
        return std::find(v.begin(), v.end(), s) != v.end();
    };
    for (size_t i = 0; i < argv.size(); ++i) {
        const std::string& a = argv[i];
        if (a.size() < 3 || a.compare(0, 2, "--") != 0) {
            positional_.push_back(a);
            continue;
        }
        std::string name = a.substr(2);
        if (known(flags, name)) {
            values_[name] = "1";
        } else if (known(options, name)) {
            if (i + 1 >= argv.size()) throw std::invalid_argument("option --" + name + " needs a value");
            values_[name] = argv[++i];
        } else {
            std::string list;
            for (const auto& o : options) list += " --" + o;
            for (const auto& f : flags) list += " --" + f;
            throw std::invalid_argument("unknown option " + a + " (accepted:" + list + ")");
        }
    }
}

std::string Args::get(const std::string& name, const std::string& def) const {
    auto it = values_.find(name);
    return it == values_.end() ? def : it->second;
}

int Args::get_int(const std::string& name, int def) const {
    auto it = values_.find(name);
    if (it == values_.end()) return def;
    size_t pos = 0;
    int v = 0;
    try {
        v = std::stoi(it->second, &pos);
    } catch (const std::exception&) {
        pos = 0;
    }
    if (pos != it->second.size() || it->second.empty())
        throw std::invalid_argument("option --" + name + " expects an integer, got '" + it->second + "'");
    return v;
}

}  // namespace dlbhc

namespace dlbhc {

double Args::get_double(const std::string& name, double def) const {
    auto it = values_.find(name);
    if (it == values_.end()) return def;
    size_t pos = 0;
    double v = 0;
    try {
        v = std::stod(it->second, &pos);
    } catch (const std::exception&) {
        pos = 0;
    }
    if (pos != it->second.size() || it->second.empty() || !std::isfinite(v))
        throw std::invalid_argument("option --" + name + " expects a number, got '" + it->second + "'");
    return v;
}

}  // namespace dlbhc

namespace dlbhc {

void Args::expect_no_positional() const {
    if (!positional_.empty())
        throw std::invalid_argument("unexpected argument '" + positional_[0] + "' (options start with --; see --help)");
}

void Args::require(std::initializer_list<const char*> names) const {
    for (const char* n : names)
        if (!has(n)) throw std::invalid_argument(std::string("--") + n + " is required (see --help)");
}

}  // namespace dlbhc
