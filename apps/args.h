// apps/args.h -- a tiny "--name value" / "--flag" parser shared by the subcommands.
#pragma once
#include <initializer_list>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace dlbhc {

class Args {
public:
    // argv holds the words after the subcommand. `flags` are options without a value; every other
    // "--name" takes the next word. Unknown names are an error listing the accepted ones.
    Args(const std::vector<std::string>& argv, const std::vector<std::string>& options,
         const std::vector<std::string>& flags);
    bool has(const std::string& name) const { return values_.count(name) > 0; }
    std::string get(const std::string& name, const std::string& def) const;
    int get_int(const std::string& name, int def) const;  // throws on a non-integer value
    double get_double(const std::string& name, double def) const;  // throws on a non-number
    const std::vector<std::string>& positional() const { return positional_; }
    // Throws "unexpected argument ..." when any word is not an option (commands without files).
    void expect_no_positional() const;
    // Throws "--<name> is required (see --help)" for the first missing option.
    void require(std::initializer_list<const char*> names) const;

private:
    std::map<std::string, std::string> values_;
    std::vector<std::string> positional_;
};

}  // namespace dlbhc
