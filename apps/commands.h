// apps/commands.h -- one function per subcommand; each takes the words after the command name and
// returns the exit code. Errors are thrown as exceptions and reported by main.
#pragma once
#include <string>
#include <vector>

namespace dlbhc {

int cmd_audit(const std::vector<std::string>& args);
int cmd_convert(const std::vector<std::string>& args);
int cmd_encode(const std::vector<std::string>& args);
int cmd_eval(const std::vector<std::string>& args);
int cmd_export(const std::vector<std::string>& args);
int cmd_index(const std::vector<std::string>& args);
int cmd_info(const std::vector<std::string>& args);
int cmd_merge(const std::vector<std::string>& args);
int cmd_net(const std::vector<std::string>& args);
int cmd_query(const std::vector<std::string>& args);
int cmd_summary(const std::vector<std::string>& args);
int cmd_train(const std::vector<std::string>& args);
int cmd_version(const std::vector<std::string>& args);

}  // namespace dlbhc
