// SQL, for probes: connect to PostgreSQL (libpq), MySQL/MariaDB (libmariadb) or SQLite (sqlite3)
// from a DSN that is a Secret, within a deadline and a stop token, and run read-only statements
// whose rows come back as nullable text. Every wait (connect, TLS, authentication, each query)
// ends at the deadline: a server that accepts TCP and never answers is Errc::timeout, not a hang.
#pragma once

#include <hook/util/duration.hpp>
#include <hook/util/result.hpp>
#include <hook/util/secret.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

namespace util {

// --- Interface ---

enum class SqlDriver : std::uint8_t { postgres, mysql, sqlite };

// Return "postgres", "mysql" or "sqlite".
std::string_view sql_driver_name(SqlDriver driver);

// Return the driver called `name` ("postgres", "mysql", "sqlite"), or nullopt.
std::optional<SqlDriver> sql_driver_from_name(std::string_view name);

// Where a DSN points, without its password: for messages.
struct SqlTarget
{
  SqlDriver driver = SqlDriver::postgres;
  std::string host;     // a name, an address or a unix socket's directory/path; "" = default
  std::string port;     // "" = default
  std::string user;     // "" = default
  std::string database; // the database name, or the SQLite file's path

  // Return "postgres app@127.0.0.1:5432/app", "sqlite /var/lib/app.db": never a password.
  std::string describe() const;
};

// Parse `dsn` for `driver`, for messages and for the MySQL/SQLite connect (libpq parses its own).
//   postgres  postgresql://user:pass@host:port/db?sslmode=require (or postgres://); libpq's
//             key=value form ("host=... dbname=...") too
//   mysql     mysql://user:pass@host:port/db?socket=/run/mysqld/mysqld.sock&ssl-mode=REQUIRED
//             (or mariadb://); percent-escapes are decoded
//   sqlite    a file path, or sqlite:///abs/path, sqlite:relative/path, file:path
// Errors are Errc::config and never carry the password.
Result<SqlTarget> parse_sql_dsn(SqlDriver driver, const Secret& dsn);

// Return what of `dsn` must never be shown, for a Redactor: the DSN itself and, when it has one,
// its password alone (decoded from a URL's user:password@, or libpq's password=...), which a
// library or a tool may echo by itself.
std::vector<Secret> dsn_secrets(const Secret& dsn);

using SqlRow = std::vector<std::optional<std::string>>; // nullopt = SQL NULL

struct SqlRows
{
  std::vector<std::string> columns;
  std::vector<SqlRow> rows;
};

class SqlConnection
{
public:
  virtual ~SqlConnection() = default;

  // Run `sql` (one statement) and return all its rows, by `deadline`. A server error is
  // Errc::protocol (Errc::permission for "permission denied"), a deadline Errc::timeout (the
  // statement is cancelled), a stop Errc::cancelled, a broken connection Errc::network.
  virtual Result<SqlRows>
  query(std::string_view sql, Clock::time_point deadline, std::stop_token stop) = 0;

  // Return the server's version as it reports it ("15.18", "10.11.19-MariaDB-0+deb12u1",
  // "3.40.1").
  virtual std::string server_version() const = 0;

  // Return where this connection goes.
  virtual const SqlTarget& target() const = 0;
};

// Connects, for checks (hook::Probes): the real one uses libpq, libmariadb and sqlite3; tests
// install fakes.
class SqlConnector
{
public:
  virtual ~SqlConnector() = default;
  static std::shared_ptr<SqlConnector> make_real();

  // Connect to `dsn` with `driver` by `deadline`, then make the session read-only: PostgreSQL
  // and MySQL/MariaDB in a READ ONLY transaction (with a statement timeout of the time left),
  // SQLite opened with SQLITE_OPEN_READONLY (a missing file is an error, never created).
  // Errors name the target (host, port, user, database) and never the password: a refused or
  // unreachable server is Errc::network, a wrong password Errc::permission, a server that does
  // not answer in time Errc::timeout, a stop Errc::cancelled, a malformed DSN Errc::config.
  virtual Result<std::unique_ptr<SqlConnection>> connect(SqlDriver driver,
                                                         const Secret& dsn,
                                                         Clock::time_point deadline,
                                                         std::stop_token stop) = 0;
};

} // namespace util
