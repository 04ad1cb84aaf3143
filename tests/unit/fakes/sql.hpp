// The shared fake of the SQL probe (util::SqlConnector): a database that answers each statement
// with the rows of the first entry whose key the SQL contains, and logs what it was sent.
#pragma once

#include <hook/util/sql.hpp>

#include <fmt/format.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace fakes {

// Return rows of `values` with `columns` columns (0: as many as the first row has, or 1).
inline util::SqlRows
sql_rows(std::vector<std::vector<std::optional<std::string>>> values, std::size_t columns = 0)
{
  util::SqlRows out;
  const auto width = columns != 0 ? columns : (values.empty() ? 1 : values.front().size());
  for (std::size_t i = 0; i < width; ++i) {
    out.columns.push_back(fmt::format("c{}", i));
  }
  for (auto& row : values) {
    out.rows.push_back(std::move(row));
  }
  return out;
}

class SqlConnection final : public util::SqlConnection
{
public:
  using Answers = std::vector<std::pair<std::string, std::function<util::Result<util::SqlRows>()>>>;

  SqlConnection(util::SqlDriver driver,
                Answers answers,
                std::vector<std::string>* log,
                std::string version = "15.18")
      : m_answers(std::move(answers)),
        m_log(log),
        m_version(std::move(version))
  {
    m_target.driver = driver;
    m_target.host = "db.internal";
    m_target.user = "app";
    m_target.database = "app";
  }

  util::Result<util::SqlRows>
  query(std::string_view sql, util::Clock::time_point, std::stop_token) override
  {
    if (m_log != nullptr) {
      m_log->emplace_back(sql);
    }
    for (const auto& [key, answer] : m_answers) {
      if (sql.find(key) != std::string_view::npos) {
        return answer();
      }
    }
    return util::make_error(util::Errc::protocol, fmt::format("unexpected query: {}", sql));
  }

  std::string
  server_version() const override
  {
    return m_version;
  }

  const util::SqlTarget&
  target() const override
  {
    return m_target;
  }

private:
  Answers m_answers;
  std::vector<std::string>* m_log;
  std::string m_version;
  util::SqlTarget m_target;
};

// Connects by calling `make`; counts the connects.
class SqlConnector final : public util::SqlConnector
{
public:
  std::function<util::Result<std::unique_ptr<util::SqlConnection>>()> make;
  int connects = 0;

  util::Result<std::unique_ptr<util::SqlConnection>>
  connect(util::SqlDriver, const util::Secret&, util::Clock::time_point, std::stop_token) override
  {
    ++connects;
    return make();
  }
};

} // namespace fakes
