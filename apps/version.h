// apps/version.h -- dlbhc's version: what `dlbhc version` prints and every index records
// (search/provenance.h, dlbhc.version).
#pragma once

namespace dlbhc {

inline constexpr const char* kDlbhcVersion = "0.1.0";

}  // namespace dlbhc
