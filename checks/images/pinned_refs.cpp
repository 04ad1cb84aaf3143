#include "pinned_refs.hpp"

#include <hook/util/text.hpp>

#include <fmt/format.h>

#include <yaml-cpp/anchor.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <deque>
#include <set>
#include <sstream>
#include <stdexcept>

namespace checks::images {

namespace {

// --- YAML ---

// A node of a loaded document. Collections hold their children as uses: the node, and the line
// of the alias when the child was written as one (an alias shares its anchor's node).
struct YamlNode;

struct YamlUse
{
  const YamlNode* node = nullptr;
  std::size_t alias_line = 0; // 0: written in place
};

struct YamlNode
{
  enum class Kind { null, scalar, sequence, map };
  Kind kind = Kind::null;
  std::size_t line = 0;       // 1-based
  std::string value;          // scalar
  bool plain = false;         // a plain scalar (only a plain `<<` is a merge key)
  std::vector<YamlUse> items; // sequence
  std::vector<std::pair<YamlUse, YamlUse>> entries; // map
  bool open = false;                                // still being read
};

// Build the documents of a stream from yaml-cpp's events, resolving aliases to their anchors'
// nodes (so a value used through several aliases is one node).
class YamlLoader final : public YAML::EventHandler
{
public:
  std::deque<YamlNode> nodes;         // stable addresses
  std::vector<const YamlNode*> roots; // one per document

  void
  OnDocumentStart(const YAML::Mark&) override
  {
    m_anchors.clear();
    m_open.clear();
  }
  void
  OnDocumentEnd() override
  {
    if (!m_root) {
      m_root = &make(YamlNode::Kind::null, YAML::Mark());
    }
    roots.push_back(m_root);
    m_root = nullptr;
  }
  void
  OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override
  {
    auto& node = make(YamlNode::Kind::null, mark);
    remember(anchor, node);
    add({&node, 0});
  }
  void
  OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override
  {
    const auto found = m_anchors.find(anchor);
    if (found == m_anchors.end()) {
      throw YAML::ParserException(mark, "an alias of an anchor that is not defined");
    }
    if (found->second->open) {
      throw YAML::ParserException(mark, "an alias inside its own anchor's value (a cycle)");
    }
    add({found->second, static_cast<std::size_t>(mark.line) + 1});
  }
  void
  OnScalar(const YAML::Mark& mark,
           const std::string& tag,
           YAML::anchor_t anchor,
           const std::string& value) override
  {
    auto& node = make(YamlNode::Kind::scalar, mark);
    node.value = value;
    node.plain = tag == "?";
    remember(anchor, node);
    add({&node, 0});
  }
  void
  OnSequenceStart(const YAML::Mark& mark,
                  const std::string&,
                  YAML::anchor_t anchor,
                  YAML::EmitterStyle::value) override
  {
    start(YamlNode::Kind::sequence, mark, anchor);
  }
  void
  OnSequenceEnd() override
  {
    finish();
  }
  void
  OnMapStart(const YAML::Mark& mark,
             const std::string&,
             YAML::anchor_t anchor,
             YAML::EmitterStyle::value) override
  {
    start(YamlNode::Kind::map, mark, anchor);
  }
  void
  OnMapEnd() override
  {
    finish();
  }

private:
  std::map<YAML::anchor_t, YamlNode*> m_anchors;
  // The open collections, innermost last, each with the key it waits a value for (a map).
  struct Open
  {
    YamlNode* node = nullptr;
    std::optional<YamlUse> key;
  };
  std::vector<Open> m_open;
  const YamlNode* m_root = nullptr;

  YamlNode&
  make(YamlNode::Kind kind, const YAML::Mark& mark)
  {
    auto& node = nodes.emplace_back();
    node.kind = kind;
    node.line = mark.is_null() ? 0 : static_cast<std::size_t>(mark.line) + 1;
    return node;
  }

  void
  remember(YAML::anchor_t anchor, YamlNode& node)
  {
    if (anchor != YAML::NullAnchor) {
      m_anchors[anchor] = &node;
    }
  }

  // Put `use` where the stream is: the document's root, an item, a key or a key's value.
  void
  add(YamlUse use)
  {
    if (m_open.empty()) {
      if (m_root == nullptr) {
        m_root = use.node;
      }
      return;
    }
    auto& open = m_open.back();
    if (open.node->kind == YamlNode::Kind::sequence) {
      open.node->items.push_back(use);
    } else if (!open.key) {
      open.key = use;
    } else {
      open.node->entries.emplace_back(*open.key, use);
      open.key.reset();
    }
  }

  void
  start(YamlNode::Kind kind, const YAML::Mark& mark, YAML::anchor_t anchor)
  {
    auto& node = make(kind, mark);
    node.open = true;
    remember(anchor, node);
    add({&node, 0});
    m_open.push_back({&node, std::nullopt});
  }

  void
  finish()
  {
    if (!m_open.empty()) {
      m_open.back().node->open = false;
      m_open.pop_back();
    }
  }
};

bool
is_scalar(const YamlNode* node, std::string_view value)
{
  return node != nullptr && node->kind == YamlNode::Kind::scalar && node->value == value;
}

const YamlNode*
node_of(const std::optional<YamlUse>& use)
{
  return use ? use->node : nullptr;
}

// One entry of a map as a loader sees it: merge keys resolved.
struct YamlEntry
{
  const YamlNode* key = nullptr;
  YamlUse value;
};

// A document that parses but breaks a rule of YAML loaders (a merge key without a mapping): the
// message is complete, position first.
class YamlLoadError : public std::runtime_error
{
public:
  using std::runtime_error::runtime_error;
};

// Reads the references of one stream where each format puts them (see the header comment),
// each written value once.
class ReferenceReader
{
public:
  explicit ReferenceReader(std::string_view what)
      : m_what(what)
  {}

  std::vector<FoundReference> found;

  void
  read_document(const YamlNode* root)
  {
    if (const auto kind = kubernetes_kind(root)) {
      read_kubernetes(root, *kind);
      return;
    }
    const auto* services = node_of(value_of(root, "services"));
    if (services != nullptr && services->kind == YamlNode::Kind::map) {
      for (const auto& service : entries_of(*services)) {
        read_image_of(service.value);
      }
      return;
    }
    std::set<const YamlNode*> walked;
    read_any(root, walked);
  }

private:
  std::string_view m_what;
  std::set<const YamlNode*> m_seen;
  std::map<const YamlNode*, std::vector<YamlEntry>> m_entries;

  // Return the entries of `map` with its merge keys (`<<: *a`, `<<: [*a, *b]`) resolved as YAML
  // loaders merge them: the map's own keys win over merged ones, an earlier merged map over a
  // later one. A merged value keeps, as its alias line, the line of the alias that merged it. A
  // merge key whose value is not a mapping (or a sequence of them) is a YamlLoadError. Each
  // map's entries are resolved once, so merges of merges cannot multiply the work.
  const std::vector<YamlEntry>&
  entries_of(const YamlNode& map, int depth = 0)
  {
    if (const auto cached = m_entries.find(&map); cached != m_entries.end()) {
      return cached->second;
    }
    if (depth > 64) {
      throw YamlLoadError(fmt::format("{}:{}: merge keys nested too deeply", m_what, map.line));
    }
    std::vector<YamlEntry> entries;
    std::vector<YamlUse> merged;
    std::set<std::string_view> keys;
    for (const auto& [key, value] : map.entries) {
      if (key.node->kind == YamlNode::Kind::scalar && key.node->plain && key.node->value == "<<") {
        if (value.node->kind == YamlNode::Kind::sequence) {
          merged.insert(merged.end(), value.node->items.begin(), value.node->items.end());
        } else {
          merged.push_back(value);
        }
        continue;
      }
      entries.push_back({key.node, value});
      if (key.node->kind == YamlNode::Kind::scalar) {
        keys.insert(key.node->value);
      }
    }
    for (const auto& source : merged) {
      if (source.node->kind != YamlNode::Kind::map) {
        throw YamlLoadError(
          fmt::format("{}:{}: a merge key (<<) takes a mapping or a sequence of mappings",
                      m_what,
                      source.alias_line != 0 ? source.alias_line : source.node->line));
      }
      for (auto entry : entries_of(*source.node, depth + 1)) {
        if (entry.key->kind == YamlNode::Kind::scalar && !keys.insert(entry.key->value).second) {
          continue;
        }
        if (entry.value.alias_line == 0) {
          entry.value.alias_line = source.alias_line;
        }
        entries.push_back(entry);
      }
    }
    return m_entries.emplace(&map, std::move(entries)).first->second;
  }

  // Return the entry of `key` in `map` (merge keys resolved; the last of duplicate keys, as a
  // loader keeps it), or nothing.
  std::optional<YamlEntry>
  entry_of(const YamlNode* map, std::string_view key)
  {
    if (map == nullptr || map->kind != YamlNode::Kind::map) {
      return std::nullopt;
    }
    std::optional<YamlEntry> found_entry;
    for (const auto& entry : entries_of(*map)) {
      if (is_scalar(entry.key, key)) {
        found_entry = entry;
      }
    }
    return found_entry;
  }

  std::optional<YamlUse>
  value_of(const YamlNode* map, std::string_view key)
  {
    const auto entry = entry_of(map, key);
    return entry ? std::optional<YamlUse>(entry->value) : std::nullopt;
  }

  // Return the kind of a document of Kubernetes's own API groups (apiVersion "v1", or a group
  // without a dot or ending in ".k8s.io"), or nothing (no kind, or a custom resource's).
  std::optional<std::string>
  kubernetes_kind(const YamlNode* root)
  {
    const auto* api = node_of(value_of(root, "apiVersion"));
    const auto* kind = node_of(value_of(root, "kind"));
    if (api == nullptr || kind == nullptr || api->kind != YamlNode::Kind::scalar
        || kind->kind != YamlNode::Kind::scalar || kind->value.empty()) {
      return std::nullopt;
    }
    const auto slash = api->value.find('/');
    if (slash == std::string::npos) {
      return api->value == "v1" ? std::optional<std::string>(kind->value) : std::nullopt;
    }
    const auto group = std::string_view(api->value).substr(0, slash);
    if (group.empty()
        || (group.find('.') != std::string_view::npos && !group.ends_with(".k8s.io"))) {
      return std::nullopt;
    }
    return kind->value;
  }

  void
  read_kubernetes(const YamlNode* root, const std::string& kind)
  {
    if (kind.ends_with("List")) {
      const auto* items = node_of(value_of(root, "items"));
      if (items != nullptr && items->kind == YamlNode::Kind::sequence) {
        for (const auto& item : items->items) {
          read_document(item.node);
        }
      }
      return;
    }
    const auto at = [&](const YamlNode* node, std::initializer_list<std::string_view> path) {
      for (const auto key : path) {
        node = node_of(value_of(node, key));
      }
      return node;
    };
    const YamlNode* pod = nullptr;
    if (kind == "Pod") {
      pod = at(root, {"spec"});
    } else if (kind == "PodTemplate") {
      pod = at(root, {"template", "spec"});
    } else if (kind == "Deployment" || kind == "StatefulSet" || kind == "DaemonSet"
               || kind == "ReplicaSet" || kind == "ReplicationController" || kind == "Job") {
      pod = at(root, {"spec", "template", "spec"});
    } else if (kind == "CronJob") {
      pod = at(root, {"spec", "jobTemplate", "spec", "template", "spec"});
    }
    if (pod == nullptr) {
      return; // a kind that starts no container
    }
    for (const auto* list : {"containers", "initContainers", "ephemeralContainers"}) {
      const auto* containers = node_of(value_of(pod, list));
      if (containers != nullptr && containers->kind == YamlNode::Kind::sequence) {
        for (const auto& container : containers->items) {
          read_image_of(container);
        }
      }
    }
    const auto* volumes = node_of(value_of(pod, "volumes"));
    if (volumes != nullptr && volumes->kind == YamlNode::Kind::sequence) {
      for (const auto& volume : volumes->items) {
        if (const auto image = entry_of(volume.node, "image")) {
          read_image_volume(through(*image, volume));
        }
      }
    }
  }

  // The `image` of a compose service or a container, when it has one (a service may be built
  // instead).
  void
  read_image_of(const YamlUse& map)
  {
    if (auto image = entry_of(map.node, "image")) {
      reference(through(*image, map), "image");
    }
  }

  // Return `entry` of a map used as `map`: reached through the map's alias when the entry has
  // none of its own.
  static YamlEntry
  through(YamlEntry entry, const YamlUse& map)
  {
    if (entry.value.alias_line == 0) {
      entry.value.alias_line = map.alias_line;
    }
    return entry;
  }

  // A Kubernetes image volume: `image: {reference: ..., pullPolicy: ...}`.
  void
  read_image_volume(const YamlEntry& image)
  {
    if (const auto reference_entry = entry_of(image.value.node, "reference")) {
      reference(through(*reference_entry, image.value), "image.reference");
    } else if (m_seen.insert(image.value.node).second) {
      problem(image.key->line, "image volume without a reference");
    }
  }

  // Every `image:` of a document of no known kind; each collection is walked once, however many
  // aliases reach it.
  void
  read_any(const YamlNode* node, std::set<const YamlNode*>& walked)
  {
    if (node == nullptr || node->kind == YamlNode::Kind::null
        || node->kind == YamlNode::Kind::scalar || !walked.insert(node).second) {
      return;
    }
    if (node->kind == YamlNode::Kind::sequence) {
      for (const auto& item : node->items) {
        read_any(item.node, walked);
      }
      return;
    }
    for (const auto& [key, value] : node->entries) {
      if (is_scalar(key.node, "image")) {
        const YamlEntry entry{key.node, value};
        if (value.node->kind == YamlNode::Kind::map && entry_of(value.node, "reference")) {
          read_image_volume(entry); // the image volume's shape, in a custom resource's pod
        } else {
          reference(entry, "image");
        }
      }
      read_any(key.node, walked);
      read_any(value.node, walked);
    }
  }

  // Record the value of `entry` (the key `key`): a reference, or a problem at the key's line.
  void
  reference(const YamlEntry& entry, std::string_view key)
  {
    const auto* node = entry.value.node;
    if (!m_seen.insert(node).second) {
      return;
    }
    switch (node->kind) {
    case YamlNode::Kind::scalar:
      found.push_back({node->line, node->value, entry.value.alias_line, {}});
      return;
    case YamlNode::Kind::null:
      problem(entry.key->line, fmt::format("{}: is empty, not an image reference", key));
      return;
    case YamlNode::Kind::sequence:
      problem(entry.key->line, fmt::format("{}: is a sequence, not an image reference", key));
      return;
    case YamlNode::Kind::map: {
      std::vector<std::string> keys;
      for (const auto& member : entries_of(*node)) {
        if (member.key->kind == YamlNode::Kind::scalar) {
          keys.push_back(util::printable(member.key->value));
        }
      }
      if (keys.size() > 4) {
        keys.resize(4);
        keys.emplace_back("...");
      }
      problem(entry.key->line,
              fmt::format("{}: is a mapping ({}), not an image reference (a template's values? "
                          "list the rendered file instead)",
                          key,
                          fmt::join(keys, ", ")));
      return;
    }
    }
  }

  void
  problem(std::size_t line, std::string why)
  {
    found.push_back({line, {}, 0, std::move(why)});
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

// --- Variables ---

util::Error
interpolation_error(std::string message)
{
  return util::make_error(util::Errc::config, std::move(message));
}

// Return the length of the word that starts `text` and ends before the `}` closing the
// `${...}` it is part of (nested `${...}` and `$$` skipped), or nothing when no `}` closes it.
std::optional<std::size_t>
word_length(std::string_view text)
{
  std::size_t depth = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '$' && i + 1 < text.size() && (text[i + 1] == '$' || text[i + 1] == '{')) {
      depth += text[i + 1] == '{' ? 1 : 0;
      ++i;
    } else if (text[i] == '}') {
      if (depth == 0) {
        return i;
      }
      --depth;
    }
  }
  return std::nullopt;
}

util::Result<std::string>
expand_text(std::string_view text, const std::map<std::string, std::string>& variables, int depth)
{
  if (depth > 16) {
    return interpolation_error("variable defaults nested more than 16 deep");
  }
  const auto is_name_start = [](char c) {
    return std::isalpha(static_cast<unsigned char>(c)) != 0 || c == '_';
  };
  const auto is_name_char = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_';
  };
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
    if (i + 1 >= text.size() || (text[i + 1] != '{' && !is_name_start(text[i + 1]))) {
      return interpolation_error(
        fmt::format("\"{}\": a $ that starts no variable (write $$ for a $)",
                    util::printable(text.substr(i, 16))));
    }
    if (text[i + 1] != '{') {
      std::size_t j = i + 1;
      while (j < text.size() && is_name_char(text[j])) {
        ++j;
      }
      const auto name = std::string(text.substr(i + 1, j - i - 1));
      const auto value = variables.find(name);
      if (value == variables.end()) {
        return interpolation_error(
          fmt::format("${{{}}} is not set by any file of pinned_refs", name));
      }
      out += value->second;
      i = j;
      continue;
    }
    // ${NAME}, ${NAME<operator>word}
    std::size_t j = i + 2;
    while (j < text.size() && is_name_char(text[j])) {
      ++j;
    }
    const auto name = std::string(text.substr(i + 2, j - i - 2));
    const auto length = word_length(text.substr(i + 2));
    if (!length) {
      return interpolation_error(
        fmt::format("\"{}\": no closing brace", util::printable(text.substr(i, 32))));
    }
    const auto close = i + 2 + *length;
    const auto whole = text.substr(i, close - i + 1);
    if (name.empty() || !is_name_start(name.front())) {
      return interpolation_error(
        fmt::format("\"{}\" is not a variable", util::printable(whole.substr(0, 32))));
    }
    auto operation = text.substr(j, close - j); // "", ":-word", "-word", ":?msg", ...
    const bool colon = operation.starts_with(':');
    if (colon) {
      operation.remove_prefix(1);
    }
    const char op = operation.empty() ? '\0' : operation.front();
    if ((op == '\0' && colon) || (op != '\0' && op != '-' && op != '?' && op != '+')) {
      return interpolation_error(
        fmt::format("\"{}\" is not a variable", util::printable(whole.substr(0, 32))));
    }
    const auto word = op == '\0' ? std::string_view() : operation.substr(1);
    const auto value = variables.find(name);
    // With a colon, an empty value counts as unset.
    const bool set = value != variables.end() && !(colon && value->second.empty());
    i = close + 1;
    switch (op) {
    case '\0':
      if (value == variables.end()) {
        return interpolation_error(
          fmt::format("${{{}}} is not set by any file of pinned_refs", name));
      }
      out += value->second;
      break;
    case '-':
      if (set) {
        out += value->second;
      } else {
        RG_TRY_ASSIGN(const auto fallback, expand_text(word, variables, depth + 1));
        out += fallback;
      }
      break;
    case '+':
      if (set) {
        RG_TRY_ASSIGN(const auto other, expand_text(word, variables, depth + 1));
        out += other;
      }
      break;
    case '?':
      if (!set) {
        auto message = expand_text(word, variables, depth + 1);
        const auto said =
          message && !message->empty() ? fmt::format(": {}", util::printable(*message)) : "";
        return interpolation_error(fmt::format("${{{}}} is {}by any file of pinned_refs{}",
                                               name,
                                               colon ? "empty or not set " : "not set ",
                                               said));
      }
      out += value->second;
      break;
    default:
      break;
    }
  }
  return out;
}

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
  YamlLoader loader;
  try {
    YAML::Parser parser(in);
    while (parser.HandleNextDocument(loader)) {
    }
    ReferenceReader reader(what);
    for (const auto* root : loader.roots) {
      reader.read_document(root);
    }
    std::stable_sort(reader.found.begin(), reader.found.end(), [](const auto& a, const auto& b) {
      return a.line < b.line;
    });
    return std::move(reader.found);
  } catch (const YamlLoadError& error) {
    return util::make_error(util::Errc::config, util::printable(error.what()));
  } catch (const YAML::Exception& error) {
    if (error.mark.is_null()) {
      return util::make_error(util::Errc::config, util::printable(error.msg));
    }
    return util::make_error(util::Errc::config,
                            fmt::format("{}:{}:{}: not valid YAML: {}",
                                        what,
                                        error.mark.line + 1,
                                        error.mark.column + 1,
                                        util::printable(error.msg)));
  } catch (const std::exception& error) {
    return util::make_error(util::Errc::config,
                            fmt::format("{}: not valid YAML: {}", what, error.what()));
  }
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
            found.push_back({token.line, std::string(value), 0, {}});
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
          found.push_back({token.line, token.text, 0, {}});
          state = State::idle;
        }
        break;
      case State::image_next:
        found.push_back({token.line, token.text, 0, {}});
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

util::Result<std::string>
expand_variables(std::string_view text, const std::map<std::string, std::string>& variables)
{
  return expand_text(text, variables, 0);
}

} // namespace checks::images
