#include "config/validate/analysis.h"

namespace halyard::config {

const AnalyzerList& allAnalyzers() {
  static const AnalyzerList kAll = [] {
    AnalyzerList list;
    registerNetworkingAnalyzers(list);
    registerPolicyAnalyzers(list);
    return list;
  }();
  return kAll;
}

}  // namespace halyard::config
