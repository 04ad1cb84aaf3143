// Report formats. A reporter only prints: the verdict and the exit code come from the runner.
#pragma once

#include <hook/runner.hpp>

#include <memory>
#include <ostream>
#include <span>
#include <string_view>

namespace hook::report {

// --- Interface ---

enum class Colour { yes, no };

struct ReportOptions
{
  Colour colour = Colour::no;
  std::string_view hostname; // shown in reports that carry one ("" to leave out)
};

// Print `summary` to `out` in one format.
using WriteReport = void (*)(std::ostream& out, const RunSummary& summary, const ReportOptions&);

struct ReportFormat
{
  std::string_view name;    // the value of `--format`
  std::string_view summary; // one line, for --help
  WriteReport write;
};

// Return the formats, sorted by name.
std::span<const ReportFormat> report_formats();

// Return the format called `name`, or nullptr.
const ReportFormat* find_report_format(std::string_view name);

} // namespace hook::report
