#include "expect.hpp"

#include <hook/util/text.hpp>

#include <fmt/format.h>

#include <charconv>
#include <cmath>

namespace hook {

namespace {

std::string
quoted(std::string_view text)
{
  return fmt::format("\"{}\"", util::printable(text, util::Quotes::escape));
}

std::string
number_text(double value)
{
  return fmt::format("{}", value);
}

// Parse `text` (surrounding blanks allowed) as a finite number.
std::optional<double>
parse_number(std::string_view text)
{
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) {
    return std::nullopt;
  }
  const auto last = text.find_last_not_of(" \t\r\n");
  text = text.substr(first, last - first + 1);
  double value = 0;
  const auto* end = text.data() + text.size();
  const auto [stop, error] = std::from_chars(text.data(), end, value);
  if (error != std::errc() || stop != end || !std::isfinite(value)) {
    return std::nullopt;
  }
  return value;
}

} // namespace

struct ExpectationJudge
{
  static void
  judge_one(const Expectation& expected, const Observation& observed, Judgement& into)
  {
    const auto subject = std::string(observed.subject);
    // What a finding shows of the text: secrets out first, then escaped and cut.
    static const util::Redactor k_no_secrets;
    const auto& redactor = observed.redactor != nullptr ? *observed.redactor : k_no_secrets;
    const auto found = [&] { return redactor.excerpt(observed.text, observed.truncated); };
    const auto quoted_text = [&] { return quoted(redactor.redact(observed.text)); };
    const auto unmet = [&](std::string summary) {
      into.unmet.push_back({Finding{subject, expected.describe(), found()}, std::move(summary)});
    };
    const auto cut = [&] {
      into.undetermined.push_back(
        {Finding{
           subject,
           expected.describe(),
           fmt::format("more than {} ({} bytes); not judged", observed.limit_name, observed.limit)},
         fmt::format("{} is longer than {} ({} bytes); raise it to judge {}",
                     subject,
                     observed.limit_name,
                     observed.limit,
                     expected.describe())});
    };
    switch (expected.m_kind) {
    case Expectation::Kind::contains:
      if (observed.text.find(expected.m_text) != std::string_view::npos) {
        return; // present in what was read, so present in the whole
      }
      if (observed.truncated) {
        cut();
      } else {
        unmet(fmt::format("{} does not contain {}", subject, quoted(expected.m_text)));
      }
      return;
    case Expectation::Kind::matches: {
      if (observed.truncated) {
        cut(); // `$`, lookaheads and \b would be judged at the cut, not at the real end
        return;
      }
      const auto matched = util::search_pattern(*expected.m_pattern, observed.text);
      if (!matched) {
        into.undetermined.push_back(
          {Finding{subject, expected.describe(), "too costly to match; not judged"},
           fmt::format("{}: the pattern /{}/ is too costly to match against it",
                       subject,
                       expected.m_pattern->text)});
      } else if (!*matched) {
        unmet(fmt::format("{} does not match /{}/", subject, expected.m_pattern->text));
      }
      return;
    }
    case Expectation::Kind::equals:
    case Expectation::Kind::one_of:
    case Expectation::Kind::range:
      break;
    }
    if (observed.truncated) {
      cut();
      return;
    }
    if (expected.m_kind == Expectation::Kind::equals) {
      if (observed.text != expected.m_text) {
        unmet(
          fmt::format("{} is {}, expected {}", subject, quoted_text(), quoted(expected.m_text)));
      }
      return;
    }
    if (expected.m_kind == Expectation::Kind::one_of) {
      for (const auto& value : expected.m_values) {
        if (observed.text == value) {
          return;
        }
      }
      unmet(fmt::format("{} is {}, expected {}", subject, quoted_text(), expected.describe()));
      return;
    }
    const auto number = parse_number(observed.text);
    if (!number) {
      unmet(fmt::format("{} is {}, not a number", subject, quoted_text()));
      return;
    }
    if ((expected.m_min && *number < *expected.m_min)
        || (expected.m_max && *number > *expected.m_max)) {
      unmet(
        fmt::format("{} is {}, expected {}", subject, number_text(*number), expected.describe()));
    }
  }
};

Expectation
Expectation::contains(std::string needle)
{
  Expectation e;
  e.m_kind = Kind::contains;
  e.m_text = std::move(needle);
  return e;
}

Expectation
Expectation::matches(util::Pattern pattern)
{
  Expectation e;
  e.m_kind = Kind::matches;
  e.m_pattern = std::move(pattern);
  return e;
}

Expectation
Expectation::equals(std::string value)
{
  Expectation e;
  e.m_kind = Kind::equals;
  e.m_text = std::move(value);
  return e;
}

Expectation
Expectation::one_of(std::vector<std::string> values)
{
  Expectation e;
  e.m_kind = Kind::one_of;
  e.m_values = std::move(values);
  return e;
}

Expectation
Expectation::range(std::optional<double> min, std::optional<double> max)
{
  Expectation e;
  e.m_kind = Kind::range;
  e.m_min = min;
  e.m_max = max;
  return e;
}

std::string
Expectation::describe() const
{
  switch (m_kind) {
  case Kind::contains:
    return fmt::format("contains {}", quoted(m_text));
  case Kind::matches:
    return fmt::format("matches /{}/", m_pattern->text);
  case Kind::equals:
    return fmt::format("equals {}", quoted(m_text));
  case Kind::one_of: {
    std::vector<std::string> shown;
    for (const auto& value : m_values) {
      shown.push_back(quoted(value));
    }
    return fmt::format("one of {}", fmt::join(shown, ", "));
  }
  case Kind::range:
    if (m_min && m_max) {
      return fmt::format("from {} to {}", number_text(*m_min), number_text(*m_max));
    }
    if (m_min) {
      return fmt::format("at least {}", number_text(*m_min));
    }
    if (m_max) {
      return fmt::format("at most {}", number_text(*m_max));
    }
    return "a number";
  }
  return "";
}

void
Judgement::add_unmet(Finding finding, std::string summary)
{
  unmet.push_back({std::move(finding), std::move(summary)});
}

void
judge(std::span<const Expectation> expectations, const Observation& observed, Judgement& into)
{
  for (const auto& expectation : expectations) {
    ExpectationJudge::judge_one(expectation, observed, into);
  }
}

CheckResult
result_of(std::string_view what, Judgement judgement, std::string pass_message)
{
  const auto message = [&](const std::vector<Judgement::Item>& items) {
    auto text =
      what.empty() ? items.front().summary : fmt::format("{}: {}", what, items.front().summary);
    if (items.size() > 1) {
      text += fmt::format(" (and {} more)", items.size() - 1);
    }
    return text;
  };
  std::vector<Finding> findings;
  for (auto& item : judgement.unmet) {
    findings.push_back(std::move(item.finding));
  }
  for (auto& item : judgement.undetermined) {
    findings.push_back(std::move(item.finding));
  }
  if (!judgement.unmet.empty()) {
    return CheckResult::fail(message(judgement.unmet), std::move(findings));
  }
  if (!judgement.undetermined.empty()) {
    return CheckResult::error(message(judgement.undetermined), std::move(findings));
  }
  return CheckResult::pass(std::move(pass_message));
}

} // namespace hook
