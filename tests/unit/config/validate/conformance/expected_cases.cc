#include "expected_cases.h"

#include <fstream>
#include <sstream>

namespace halyard::config::conformance {

namespace {

std::vector<std::string> splitRow(const std::string& line) {
  std::vector<std::string> cells;
  std::string cur;
  for (size_t i = 1; i < line.size(); ++i) {  // skip the leading '|'
    if (line[i] == '|') {
      cells.push_back(cur);
      cur.clear();
    } else {
      cur.push_back(line[i]);
    }
  }
  for (auto& c : cells) {
    size_t b = c.find_first_not_of(' ');
    size_t e = c.find_last_not_of(' ');
    c = b == std::string::npos ? "" : c.substr(b, e - b + 1);
  }
  return cells;
}

std::vector<std::string> backticked(const std::string& s) {
  std::vector<std::string> out;
  size_t i = 0;
  while ((i = s.find('`', i)) != std::string::npos) {
    size_t j = s.find('`', i + 1);
    if (j == std::string::npos) break;
    out.push_back(s.substr(i + 1, j - i - 1));
    i = j + 1;
  }
  return out;
}

std::vector<std::string> splitBr(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    size_t br = s.find("<br>", start);
    out.push_back(s.substr(start, br == std::string::npos ? std::string::npos : br - start));
    if (br == std::string::npos) break;
    start = br + 4;
  }
  return out;
}

}  // namespace

std::vector<AnalyzerCase> readAnalyzerCases(const std::string& expected_md) {
  std::ifstream in(expected_md);
  std::vector<AnalyzerCase> cases;
  std::string line;
  bool in_cases = false;
  while (std::getline(in, line)) {
    if (line.starts_with("## ")) in_cases = line == "## Cases";
    if (!in_cases || !line.starts_with("| ")) continue;
    auto cells = splitRow(line);
    if (cells.size() < 6 || cells[0].empty() ||
        !std::isdigit(static_cast<unsigned char>(cells[0][0]))) {
      continue;
    }
    AnalyzerCase c;
    c.number = std::stoi(cells[0]);
    c.name = cells[1];
    c.inputs = backticked(cells[2]);
    c.extra = cells[3] == "—" ? "" : cells[3];
    if (c.extra.starts_with("mesh config")) {
      auto files = backticked(c.extra);
      if (!files.empty()) c.mesh_config = files.front();
    }
    auto analyzer = backticked(cells[4]);
    c.analyzer = analyzer.empty() ? cells[4] : analyzer.front();
    if (c.analyzer.starts_with("schema validation analyzer"))
      c.analyzer = "schema.ValidationAnalyzer";
    if (cells[5].find("(none)") == std::string::npos) {
      for (const auto& item : splitBr(cells[5])) {
        std::istringstream ss(item);
        ExpectedMessage m;
        ss >> m.code >> m.type;
        auto res = backticked(item);
        if (!res.empty()) m.resource = res.front();
        if (!m.code.empty()) c.expected.push_back(m);
      }
    }
    cases.push_back(std::move(c));
  }
  return cases;
}

}  // namespace halyard::config::conformance
