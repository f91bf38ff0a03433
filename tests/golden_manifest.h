// The manifests of the PyTorch golden data (tests/data/golden*/manifest.txt), shared by
// test_golden, test_golden_backward and test_golden_storage: one case per line, whitespace-separated
// columns, '#' comments. A missing or empty manifest gives one failing case, so a suite can never
// pass (or be skipped) without its data; a malformed line or a repeated name gives a failing case
// of its own.
#pragma once

#include <fstream>
#include <functional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace gridsample_test {

// Case has `name`, `line` and `error`; parse(columns, case) fills a case and returns "" or the
// problem. `regenerate` is the command that writes the manifest.
template <typename Case>
std::vector<Case> read_golden_manifest(
    const std::string& path, const std::string& regenerate,
    const std::function<std::string(const std::vector<std::string>&, Case&)>& parse) {
    std::vector<Case> cases;
    std::ifstream in(path);
    if (!in) {
        Case c;
        c.name = "manifest_missing";
        c.error = "cannot read " + path + " (regenerate it with " + regenerate + ")";
        return {c};
    }
    std::set<std::string> names;
    std::string text;
    for (int line = 1; std::getline(in, text); line++) {
        if (text.empty() || text[0] == '#') continue;
        std::istringstream words(text);
        std::vector<std::string> f;
        for (std::string w; words >> w;) f.push_back(w);
        if (f.empty()) continue;
        Case c;
        c.line = line;
        c.error = parse(f, c);
        if (c.error.empty() && !names.insert(c.name).second) c.error = "duplicate case name";
        if (!c.error.empty()) {
            c.name = "malformed_line_" + std::to_string(line);
            c.error = path + ":" + std::to_string(line) + ": " + c.error;
        }
        cases.push_back(std::move(c));
    }
    if (cases.empty()) {
        Case c;
        c.name = "manifest_empty";
        c.error = path + " lists no cases";
        cases.push_back(c);
    }
    return cases;
}

}  // namespace gridsample_test
