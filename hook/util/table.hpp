// The one lookup of a row by name in a table sorted by name (kinds, report formats, tool
// descriptors): tables are constexpr arrays, sorted by hand, and a unit test of each checks it.
#pragma once

#include <algorithm>
#include <span>
#include <string_view>

namespace util {

// --- Interface ---

// Return the row of `table` (sorted by `row.name`) whose name is `name`, or nullptr.
template <typename Row>
const Row*
find_by_name(std::span<const Row> table, std::string_view name)
{
  const auto it =
    std::lower_bound(table.begin(), table.end(), name, [](const Row& row, std::string_view wanted) {
      return row.name < wanted;
    });
  return it != table.end() && it->name == name ? &*it : nullptr;
}

// Return true when the names of `table` are strictly increasing (sorted and unique).
template <typename Row>
bool
sorted_by_name(std::span<const Row> table)
{
  return std::adjacent_find(table.begin(),
                            table.end(),
                            [](const Row& a, const Row& b) { return !(a.name < b.name); })
         == table.end();
}

} // namespace util
