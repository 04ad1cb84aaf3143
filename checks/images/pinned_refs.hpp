// Finding the image references in the files that start containers, and expanding the variables
// in them as compose does.
//
// YAML files (compose files, Kubernetes manifests) are loaded as a YAML loader loads them, from
// yaml-cpp's events: anchors, aliases and merge keys (`<<`) resolved. References are read where
// each format puts them:
//   - compose (a document whose `services` is a mapping): `services.<name>.image`
//   - Kubernetes (a document with `apiVersion` and `kind` of Kubernetes's own API groups: `v1`,
//     a group without a dot, or one ending in `.k8s.io`): the `image` of every container,
//     init container and ephemeral container, and `volumes[].image.reference`, in the pod spec
//     of a Pod, of a PodTemplate and of every workload's template (Deployment, StatefulSet,
//     DaemonSet, ReplicaSet, ReplicationController, Job, CronJob's jobTemplate); `items` of a
//     List (or any *List); every other kind of those groups starts no container and has none
//   - any other document (no kind readygate knows, a custom resource): every `image:` value
// A value reached through an alias or a merge key is reported once, at the line where it is
// written (the anchor's value), with the line of the first alias that used it. An `image:` that
// is a mapping (Helm's repository/tag), a sequence or empty is a problem reported at the line of
// its key, never skipped.
//
// Text files (systemd units, quadlet .container files, env files, shell scripts): `docker`,
// `podman` or `nerdctl` `run`/`create`/`pull` commands, and assignments of a variable named
// IMAGE or *_IMAGE (`Image=` in quadlet files, `WEB_IMAGE=...` in env files).
#pragma once

#include <hook/util/result.hpp>

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace checks::images {

// --- Interface ---

struct FoundReference
{
  std::size_t line = 0; // 1-based
  std::string text;     // as written (quotes removed)
  // YAML: the line of the alias or merge key through which the value was first used, when it
  // was not used where it is written; 0 otherwise.
  std::size_t alias_line = 0;
  // Not empty when the value at `line` is no reference readygate can read (a mapping, a
  // sequence, nothing): why, without the position. Such a reference is an error.
  std::string problem;
};

// Return true when `path` is read as YAML (.yml, .yaml, .json).
bool is_yaml_path(std::string_view path);

// Return the image references of every document of the YAML `text` (see the header comment). A
// syntax error, an alias of an anchor that is not defined or of its own value, or a merge key
// whose value is not a mapping is an Errc::config error "`what`:LINE:COL: ...".
util::Result<std::vector<FoundReference>> scan_yaml(std::string_view text, std::string_view what);

// Return the image references of the text file `text` (see the header comment). Lines ending
// in a backslash continue on the next; lines starting with # or ; are comments.
std::vector<FoundReference> scan_text(std::string_view text);

// Return the variable assignments (NAME=value, `export NAME=value`, systemd's
// `Environment=NAME=value`) of the text file `text`, for expanding ${NAME} in references.
std::map<std::string, std::string> assignments_in(std::string_view text);

// Return true when every line of `text` that is not blank or a comment assigns a variable
// (NAME=value or `export NAME=value`): an env file, which may hold no image reference at all
// and only set the variables others use.
bool is_env_file(std::string_view text);

// Expand the variables of `text` with `variables` as compose interpolates: $NAME, ${NAME},
// ${NAME:-default} (unset or empty), ${NAME-default} (unset), ${NAME:?message} and
// ${NAME?message} (an error), ${NAME:+other} and ${NAME+other}; a default is itself expanded,
// so defaults nest (${A:-${B:-c}}); `$$` is a literal `$`. An Errc::config error when a variable
// without a default is not set (naming it, and the message of ${NAME?message}), or when a `$` or
// `${` is malformed.
util::Result<std::string> expand_variables(std::string_view text,
                                           const std::map<std::string, std::string>& variables);

} // namespace checks::images
