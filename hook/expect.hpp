// Shared expectations: what an observed text (a command's output, a response body, a config
// value, a migration tool's answer) must satisfy, judged one way and worded one way for every
// kind. A text cut at a limit is never judged as if it were whole: an expectation it does not
// meet on the part that was read is "undetermined" (an error), not a fail or a pass.
#pragma once

#include <hook/check.hpp>
#include <hook/util/pattern.hpp>
#include <hook/util/secret.hpp>

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace hook {

// --- Interface ---

class Expectation
{
public:
  enum class Kind { contains, matches, equals, one_of, range };

  static Expectation contains(std::string needle);
  static Expectation matches(util::Pattern pattern);
  static Expectation equals(std::string value);
  static Expectation one_of(std::vector<std::string> values);
  // A number from `min` to `max`, both included; either may be absent.
  static Expectation range(std::optional<double> min, std::optional<double> max);

  Kind
  kind() const
  {
    return m_kind;
  }

  // Return what is expected: `contains "x"`, `matches /re/`, `equals "v"`, `one of "a", "b"`,
  // `from 1 to 5`, `at least 1`, `at most 5`.
  std::string describe() const;

private:
  Kind m_kind = Kind::contains;
  std::string m_text;                     // contains, equals
  std::optional<util::Pattern> m_pattern; // matches
  std::vector<std::string> m_values;      // one_of
  std::optional<double> m_min;
  std::optional<double> m_max;

  friend struct ExpectationJudge;
};

// What was observed about one subject.
struct Observation
{
  std::string_view subject; // "stdout", "body", "db.max_conn"
  std::string_view text;
  bool truncated = false;      // `text` is the first `limit` bytes of something longer
  std::string_view limit_name; // the key that set the limit: "output_limit", "body_limit"
  std::size_t limit = 0;
  // The secrets the subject may echo (a header sent, a DSN passed on): taken out of `text` before
  // a finding shows any of it. Null when the check holds none.
  const util::Redactor* redactor = nullptr;
};

// Findings about the expectations of a check: each with the one-line summary the check's
// message is made from, so no kind parses its own findings back.
struct Judgement
{
  struct Item
  {
    Finding finding;
    std::string summary; // "stdout does not contain \"ok\"", "exit code 3 (expected 0)"
  };
  std::vector<Item> unmet;        // observed, and not as expected
  std::vector<Item> undetermined; // could not be judged (text cut at a limit, costly pattern)

  // Record an unmet expectation of the check's own (an exit code, a status).
  void add_unmet(Finding finding, std::string summary);
};

// Judge each of `expectations` against `observed`, adding to `into`.
void judge(std::span<const Expectation> expectations, const Observation& observed, Judgement& into);

// Return the check result of `judgement`: fail when something is unmet ("<what>: <first summary>
// (and N more)"; undetermined ones are listed too), else error when something could not be
// judged, else pass with `pass_message`.
CheckResult result_of(std::string_view what, Judgement judgement, std::string pass_message);

} // namespace hook
