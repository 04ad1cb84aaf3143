#include "pinned_refs.hpp"

#include <hook/util/text.hpp>

#include <fmt/format.h>

#include <yaml-cpp/anchor.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <set>
#include <sstream>

namespace checks::images {

namespace {

// --- YAML ---

class ImageKeyCollector final : public YAML::EventHandler
{
public:
  std::vector<FoundReference> found;

  void
  OnDocumentStart(const YAML::Mark&) override
  {
    m_frames.clear();
  }
  void
  OnDocumentEnd() override
  {}
  void
  OnNull(const YAML::Mark&, YAML::anchor_t) override
  {
    complete("");
  }
  void
  OnAlias(const YAML::Mark&, YAML::anchor_t) override
  {
    complete("");
  }
  void
  OnScalar(const YAML::Mark& mark,
           const std::string&,
           YAML::anchor_t,
           const std::string& value) override
  {
    if (!m_frames.empty() && m_frames.back().is_map && !m_frames.back().expecting_key
        && m_frames.back().key == "image") {
      found.push_back({static_cast<std::size_t>(mark.line) + 1, value});
    }
    complete(value);
  }
  void
  OnSequenceStart(const YAML::Mark&,
                  const std::string&,
                  YAML::anchor_t,
                  YAML::EmitterStyle::value) override
  {
    m_frames.push_back(Frame{false, true, {}});
  }
  void
  OnSequenceEnd() override
  {
    end();
  }
  void
  OnMapStart(const YAML::Mark&,
             const std::string&,
             YAML::anchor_t,
             YAML::EmitterStyle::value) override
  {
    m_frames.push_back(Frame{true, true, {}});
  }
  void
  OnMapEnd() override
  {
    end();
  }

private:
  struct Frame
  {
    bool is_map = false;
    bool expecting_key = true;
    std::string key;
  };
  std::vector<Frame> m_frames;

  void
  end()
  {
    if (!m_frames.empty()) {
      m_frames.pop_back();
    }
    complete("");
  }

  // A node ended inside the innermost collection: in a map it was a key or a value, in turn.
  void
  complete(const std::string& scalar)
  {
    if (m_frames.empty() || !m_frames.back().is_map) {
      return;
    }
    auto& frame = m_frames.back();
    if (frame.expecting_key) {
      frame.key = scalar;
      frame.expecting_key = false;
    } else {
      frame.expecting_key = true;
    }
  }
};

// --- Text ---

struct Token
{
  std::string text;
  std::size_t line = 0;
  bool separator = false; // ; && || | &: the end of a command
};

// Split the text into logical lines (backslash continuations joined) of tokens.
std::vector<std::vector<Token>>
tokenize(std::string_view text)
{
  std::vector<std::vector<Token>> lines;
  std::vector<Token> current;
  std::size_t line = 1;
  std::size_t i = 0;
  bool continued = false;
  bool comment_line = false;
  bool at_line_start = true;
  const auto finish_line = [&] {
    if (!comment_line && !current.empty()) {
      lines.push_back(std::move(current));
    }
    current.clear();
    comment_line = false;
    at_line_start = true;
  };
  while (i < text.size()) {
    const char c = text[i];
    if (c == '\n') {
      ++line;
      ++i;
      if (continued) {
        continued = false;
        continue;
      }
      finish_line();
      continue;
    }
    if (c == ' ' || c == '\t' || c == '\r') {
      ++i;
      continue;
    }
    if (c == '\\' && (i + 1 == text.size() || text[i + 1] == '\n' || text[i + 1] == '\r')) {
      continued = true;
      ++i;
      continue;
    }
    if (at_line_start && (c == '#' || c == ';')) {
      comment_line = true;
    }
    at_line_start = false;
    if (c == '#' && !comment_line) {
      // A comment to the end of the line.
      while (i < text.size() && text[i] != '\n') {
        ++i;
      }
      continue;
    }
    Token token;
    token.line = line;
    while (i < text.size()) {
      const char d = text[i];
      if (d == ' ' || d == '\t' || d == '\n' || d == '\r') {
        break;
      }
      if (d == '\\' && (i + 1 == text.size() || text[i + 1] == '\n' || text[i + 1] == '\r')) {
        break;
      }
      if (d == '\'' || d == '"') {
        ++i;
        while (i < text.size() && text[i] != d && text[i] != '\n') {
          if (d == '"' && text[i] == '\\' && i + 1 < text.size() && text[i + 1] != '\n') {
            ++i;
          }
          token.text += text[i];
          ++i;
        }
        if (i < text.size() && text[i] == d) {
          ++i;
        }
        continue;
      }
      token.text += d;
      ++i;
    }
    static const std::set<std::string, std::less<>> k_separators = {";", "&&", "||", "|", "&"};
    token.separator = k_separators.contains(token.text);
    if (!token.separator && token.text.ends_with(';')) {
      // "cmd;" ends a command too. (A new token rather than assigning ";" to this one: g++ 12
      // warns falsely about that assignment, GCC bug 105329.)
      token.text.pop_back();
      const auto at = token.line;
      current.push_back(std::move(token));
      current.push_back(Token{std::string(1, ';'), at, true});
      continue;
    }
    current.push_back(std::move(token));
  }
  finish_line();
  return lines;
}

bool
is_identifier(std::string_view name)
{
  if (name.empty() || std::isdigit(static_cast<unsigned char>(name.front())) != 0) {
    return false;
  }
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_';
  });
}

bool
is_image_variable(std::string_view name)
{
  const auto upper = [&] {
    std::string out(name);
    std::transform(out.begin(), out.end(), out.begin(), [](char c) {
      return static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    });
    return out;
  }();
  return upper == "IMAGE" || upper.ends_with("_IMAGE");
}

// Call `on_assignment(name, value)` for `token` when it is NAME=value, and again for value when
// that is itself an assignment (systemd's Environment=NAME=value).
template <typename OnAssignment>
void
each_assignment(std::string_view token, const OnAssignment& on_assignment)
{
  for (int depth = 0; depth < 3; ++depth) {
    const auto eq = token.find('=');
    if (eq == std::string_view::npos || !is_identifier(token.substr(0, eq))) {
      return;
    }
    on_assignment(token.substr(0, eq), token.substr(eq + 1));
    token = token.substr(eq + 1);
  }
}

// Return the program a command token names: "ExecStart=-/usr/bin/docker" -> "docker".
std::string_view
program_of(std::string_view token)
{
  if (const auto eq = token.rfind('='); eq != std::string_view::npos) {
    token = token.substr(eq + 1);
  }
  while (!token.empty()
         && std::string_view("-@+!:").find(token.front()) != std::string_view::npos) {
    token.remove_prefix(1);
  }
  if (const auto slash = token.rfind('/'); slash != std::string_view::npos) {
    token = token.substr(slash + 1);
  }
  return token;
}

// Options of `docker|podman|nerdctl run|create|pull` that take no value; every other option
// does (unless written --name=value), as the engines' command-line parsers read them.
const std::set<std::string, std::less<>> k_boolean_long_options = {
  "--detach",
  "--interactive",
  "--tty",
  "--rm",
  "--privileged",
  "--init",
  "--publish-all",
  "--read-only",
  "--no-healthcheck",
  "--oom-kill-disable",
  "--quiet",
  "--disable-content-trust",
  "--help",
  "--replace",
  "--rmi",
  "--no-hosts",
  "--read-only-tmpfs",
  "--env-host",
  "--all-tags",
  "--tls-verify",
  "--sig-proxy",
  "--http-proxy",
  "--use-host-names",
  "--passwd",
};
// Global options (before the subcommand) that take a value.
const std::set<std::string, std::less<>> k_global_value_options = {
  "-H",
  "--host",
  "--config",
  "--context",
  "-c",
  "-l",
  "--log-level",
  "--url",
  "--connection",
  "--root",
  "--runroot",
  "--runtime",
  "--storage-driver",
  "--cgroup-manager",
  "--namespace",
  "-n",
  "--tlscacert",
  "--tlscert",
  "--tlskey",
  "--identity",
  "--address",
  "--runtime-flag",
  "--tmpdir",
  "--module",
};

} // namespace

bool
is_yaml_path(std::string_view path)
{
  const auto lower = util::to_lower(path);
  return lower.ends_with(".yml") || lower.ends_with(".yaml") || lower.ends_with(".json");
}

util::Result<std::vector<FoundReference>>
scan_yaml(std::string_view text, std::string_view what)
{
  std::istringstream in{std::string(text)};
  ImageKeyCollector collector;
  try {
    YAML::Parser parser(in);
    while (parser.HandleNextDocument(collector)) {
    }
  } catch (const YAML::Exception& error) {
    return util::make_error(util::Errc::config,
                            fmt::format("{}:{}:{}: not valid YAML: {}",
                                        what,
                                        error.mark.is_null() ? 0 : error.mark.line + 1,
                                        error.mark.is_null() ? 0 : error.mark.column + 1,
                                        util::printable(error.msg)));
  } catch (const std::exception& error) {
    return util::make_error(util::Errc::config,
                            fmt::format("{}: not valid YAML: {}", what, error.what()));
  }
  return std::move(collector.found);
}

std::vector<FoundReference>
scan_text(std::string_view text)
{
  std::vector<FoundReference> found;
  for (const auto& tokens : tokenize(text)) {
    enum class State { idle, engine, arguments, image_next };
    auto state = State::idle;
    std::string subcommand;
    for (std::size_t i = 0; i < tokens.size(); ++i) {
      const auto& token = tokens[i];
      if (token.separator) {
        state = State::idle;
        continue;
      }
      switch (state) {
      case State::idle: {
        const auto program = program_of(token.text);
        if (program == "docker" || program == "podman" || program == "nerdctl") {
          state = State::engine;
          break;
        }
        each_assignment(token.text, [&](std::string_view name, std::string_view value) {
          if (is_image_variable(name) && !value.empty()) {
            found.push_back({token.line, std::string(value)});
          }
        });
        break;
      }
      case State::engine:
        if (token.text.starts_with('-')) {
          if (token.text.find('=') == std::string::npos
              && k_global_value_options.contains(token.text)) {
            ++i;
          }
        } else if (token.text == "run" || token.text == "create" || token.text == "pull") {
          subcommand = token.text;
          state = State::arguments;
        } else if (token.text != "container" && token.text != "image") {
          state = State::idle; // another subcommand
        }
        break;
      case State::arguments:
        if (token.text == "--") {
          state = State::image_next;
        } else if (token.text.starts_with("--")) {
          if (token.text.find('=') == std::string::npos
              && !k_boolean_long_options.contains(token.text)) {
            ++i; // its value
          }
        } else if (token.text.starts_with('-') && token.text.size() > 1) {
          const std::string_view booleans = subcommand == "pull" ? "aq" : "dPiqt";
          const std::string_view cluster = std::string_view(token.text).substr(1);
          for (std::size_t k = 0; k < cluster.size(); ++k) {
            if (booleans.find(cluster[k]) == std::string_view::npos) {
              if (k + 1 == cluster.size()) {
                ++i; // the value is the next token; otherwise it is the rest of the cluster
              }
              break;
            }
          }
        } else {
          found.push_back({token.line, token.text});
          state = State::idle;
        }
        break;
      case State::image_next:
        found.push_back({token.line, token.text});
        state = State::idle;
        break;
      }
    }
  }
  return found;
}

std::map<std::string, std::string>
assignments_in(std::string_view text)
{
  std::map<std::string, std::string> variables;
  for (const auto& tokens : tokenize(text)) {
    for (const auto& token : tokens) {
      each_assignment(token.text, [&](std::string_view name, std::string_view value) {
        variables[std::string(name)] = std::string(value);
      });
    }
  }
  return variables;
}

bool
is_env_file(std::string_view text)
{
  bool any = false;
  for (const auto& tokens : tokenize(text)) {
    auto first = std::string_view(tokens.front().text);
    if (first == "export" && tokens.size() > 1) {
      first = tokens[1].text;
    }
    const auto eq = first.find('=');
    if (eq == std::string_view::npos || !is_identifier(first.substr(0, eq))) {
      return false;
    }
    any = true;
  }
  return any;
}

std::optional<std::string>
expand_variables(std::string_view text,
                 const std::map<std::string, std::string>& variables,
                 std::string& missing)
{
  std::string out;
  std::size_t i = 0;
  while (i < text.size()) {
    if (text[i] != '$') {
      out += text[i++];
      continue;
    }
    if (i + 1 < text.size() && text[i + 1] == '$') {
      out += '$';
      i += 2;
      continue;
    }
    std::string name;
    std::optional<std::string> fallback;
    bool fallback_when_empty = false;
    if (i + 1 < text.size() && text[i + 1] == '{') {
      const auto close = text.find('}', i + 2);
      if (close == std::string_view::npos) {
        missing = std::string(text.substr(i));
        return std::nullopt;
      }
      const auto inner = text.substr(i + 2, close - i - 2);
      auto end = std::find_if(inner.begin(), inner.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) == 0 && c != '_';
      });
      name = std::string(inner.begin(), end);
      auto rest = inner.substr(name.size());
      if (rest.starts_with(":-")) {
        fallback = std::string(rest.substr(2));
        fallback_when_empty = true;
      } else if (rest.starts_with('-')) {
        fallback = std::string(rest.substr(1));
      } else if (!rest.empty() && !rest.starts_with(":?") && !rest.starts_with('?')) {
        missing = std::string(inner);
        return std::nullopt;
      }
      i = close + 1;
    } else {
      std::size_t j = i + 1;
      while (j < text.size()
             && (std::isalnum(static_cast<unsigned char>(text[j])) != 0 || text[j] == '_')) {
        ++j;
      }
      name = std::string(text.substr(i + 1, j - i - 1));
      i = j;
    }
    if (!is_identifier(name)) {
      missing = name.empty() ? std::string("$") : name;
      return std::nullopt;
    }
    const auto value = variables.find(name);
    if (value != variables.end() && !(fallback_when_empty && value->second.empty())) {
      out += value->second;
    } else if (fallback) {
      out += *fallback;
    } else {
      missing = name;
      return std::nullopt;
    }
  }
  return out;
}

} // namespace checks::images
