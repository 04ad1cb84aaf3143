// Reading a small file whole (a config, a manifest header, a secret) without letting the file
// decide how long it takes or how much memory it costs: /dev/zero, a fifo, a huge file or a hung
// network mount named where a file is expected give an error by the deadline.
#pragma once

#include <hook/util/duration.hpp>
#include <hook/util/result.hpp>

#include <cstddef>
#include <filesystem>
#include <stop_token>
#include <string>

namespace util {

// --- Interface ---

// Read the regular file at `path` (a symlink to one is followed) whole. Errors (the message starts
// with the path): Errc::io when it is missing, not a regular file (a fifo, a device, a
// directory) or larger than `limit` bytes; Errc::permission when access is denied; Errc::timeout
// when it was not read by `deadline` (the open and the reads run on a helper thread, so even a
// hung mount cannot hold the caller); Errc::cancelled when `stop` was requested first.
Result<std::string> read_small_file(const std::filesystem::path& path,
                                    std::size_t limit,
                                    Clock::time_point deadline,
                                    std::stop_token stop = {});

// Return `bytes` for messages: "16 MiB", "512 KiB", "100 bytes".
std::string format_size(std::size_t bytes);

} // namespace util
