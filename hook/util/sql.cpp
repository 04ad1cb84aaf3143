#include "sql.hpp"

#include "handle.hpp"
#include "text.hpp"

#include <fmt/format.h>

#include <libpq-fe.h>
#include <mysql.h>
#include <poll.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <mutex>
#include <span>
#include <thread>

namespace util {

namespace {

// How long one poll() waits before the loop looks at the stop token again.
constexpr int k_poll_slice_ms = 50;
// The longest server message kept in an error.
constexpr std::size_t k_message_limit = 300;

// Return `text` on one line: lines joined with "; ", trimmed, the secrets of `redactor` taken out,
// then cut and escaped.
std::string
one_line(std::string_view text, const Redactor& redactor = Redactor())
{
  std::string joined;
  std::size_t start = 0;
  while (start <= text.size()) {
    auto end = text.find('\n', start);
    if (end == std::string_view::npos) {
      end = text.size();
    }
    auto line = text.substr(start, end - start);
    while (!line.empty() && std::isspace(static_cast<unsigned char>(line.front())) != 0) {
      line.remove_prefix(1);
    }
    while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back())) != 0) {
      line.remove_suffix(1);
    }
    if (!line.empty()) {
      if (!joined.empty()) {
        joined += "; ";
      }
      joined += line;
    }
    start = end + 1;
  }
  joined = redactor.redact(joined);
  if (joined.size() > k_message_limit) {
    joined.resize(k_message_limit);
    joined += "...";
  }
  return printable(valid_utf8(joined));
}

// Wait until `fd` is ready for `events` (POLLIN/POLLOUT), by `deadline`, looking at `stop`.
Result<short>
wait_fd(int fd,
        short events,
        Clock::time_point deadline,
        const std::stop_token& stop,
        const SqlTarget& target,
        std::string_view what)
{
  while (true) {
    if (stop.stop_requested()) {
      return make_error(Errc::cancelled,
                        fmt::format("{}: stopped while {}", target.describe(), what));
    }
    const auto left = time_left(deadline);
    if (left.count() <= 0) {
      return make_error(
        Errc::timeout,
        fmt::format("{}: no answer while {} before the deadline", target.describe(), what));
    }
    pollfd entry{fd, events, 0};
    const int slice = static_cast<int>(std::min<std::int64_t>(left.count(), k_poll_slice_ms));
    const int ready = ::poll(&entry, 1, std::max(slice, 1));
    if (ready < 0) {
      if (errno == EINTR) {
        continue;
      }
      return make_error(Errc::network,
                        fmt::format("{}: poll: {}", target.describe(), std::strerror(errno)));
    }
    if (ready > 0) {
      return entry.revents;
    }
  }
}

int
hex_value(char c)
{
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

// Decode %XX escapes; nullopt on a malformed one.
std::optional<std::string>
percent_decode(std::string_view text)
{
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    if (i + 2 >= text.size()) {
      return std::nullopt;
    }
    const int high = hex_value(text[i + 1]);
    const int low = hex_value(text[i + 2]);
    if (high < 0 || low < 0) {
      return std::nullopt;
    }
    out += static_cast<char>(high * 16 + low);
    i += 2;
  }
  return out;
}

// A URL of the form scheme://user:password@host:port/database?key=value&...
struct UrlDsn
{
  SqlTarget target;
  std::string password;
  std::vector<std::pair<std::string, std::string>> params;
};

Result<UrlDsn>
parse_url_dsn(SqlDriver driver, std::string_view text, std::string_view scheme_names)
{
  const auto bad = [&](std::string_view why) {
    return make_error(Errc::config,
                      fmt::format("the {} DSN is malformed: {} (expected {}://user:password@host:"
                                  "port/database)",
                                  sql_driver_name(driver),
                                  why,
                                  scheme_names.substr(0, scheme_names.find('|'))));
  };
  const auto scheme_end = text.find("://");
  if (scheme_end == std::string_view::npos) {
    return bad("no scheme");
  }
  const auto scheme = text.substr(0, scheme_end);
  bool known = false;
  for (std::size_t at = 0; at <= scheme_names.size();) {
    auto end = scheme_names.find('|', at);
    if (end == std::string_view::npos) {
      end = scheme_names.size();
    }
    known = known || scheme_names.substr(at, end - at) == scheme;
    at = end + 1;
  }
  if (!known) {
    return bad(fmt::format("unknown scheme \"{}\"", printable(scheme)));
  }
  auto rest = text.substr(scheme_end + 3);
  std::string_view query;
  if (const auto q = rest.find('?'); q != std::string_view::npos) {
    query = rest.substr(q + 1);
    rest = rest.substr(0, q);
  }
  std::string_view path;
  if (const auto slash = rest.find('/'); slash != std::string_view::npos) {
    path = rest.substr(slash + 1);
    rest = rest.substr(0, slash);
  }
  UrlDsn dsn;
  dsn.target.driver = driver;
  if (const auto at = rest.rfind('@'); at != std::string_view::npos) {
    const auto userinfo = rest.substr(0, at);
    rest = rest.substr(at + 1);
    const auto colon = userinfo.find(':');
    auto user = percent_decode(userinfo.substr(0, colon));
    if (!user) {
      return bad("a bad %-escape in the user");
    }
    dsn.target.user = std::move(*user);
    if (colon != std::string_view::npos) {
      auto password = percent_decode(userinfo.substr(colon + 1));
      if (!password) {
        return bad("a bad %-escape in the password");
      }
      dsn.password = std::move(*password);
    }
  }
  // host, [v6]:port or host:port
  std::string_view host = rest;
  std::string_view port;
  if (host.starts_with('[')) {
    const auto close = host.find(']');
    if (close == std::string_view::npos) {
      return bad("an unclosed [ in the host");
    }
    port = host.substr(close + 1);
    host = host.substr(1, close - 1);
    if (!port.empty() && !port.starts_with(':')) {
      return bad("text after the ] of the host");
    }
    if (!port.empty()) {
      port.remove_prefix(1);
    }
  } else if (const auto colon = host.rfind(':'); colon != std::string_view::npos) {
    port = host.substr(colon + 1);
    host = host.substr(0, colon);
  }
  auto decoded_host = percent_decode(host);
  if (!decoded_host) {
    return bad("a bad %-escape in the host");
  }
  dsn.target.host = std::move(*decoded_host);
  if (!port.empty()) {
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc() || end != port.data() + port.size() || value == 0 || value > 65535) {
      return bad(fmt::format("the port \"{}\" is not a number from 1 to 65535", printable(port)));
    }
    dsn.target.port = std::string(port);
  }
  auto database = percent_decode(path);
  if (!database) {
    return bad("a bad %-escape in the database");
  }
  dsn.target.database = std::move(*database);
  while (!query.empty()) {
    auto amp = query.find('&');
    const auto pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) {
      continue;
    }
    const auto eq = pair.find('=');
    auto key = percent_decode(pair.substr(0, eq));
    auto value = percent_decode(eq == std::string_view::npos ? "" : pair.substr(eq + 1));
    if (!key || !value) {
      return bad("a bad %-escape in the query");
    }
    dsn.params.emplace_back(std::move(*key), std::move(*value));
  }
  return dsn;
}

std::string
sqlite_path(std::string_view dsn)
{
  if (dsn.starts_with("sqlite://")) {
    return std::string(dsn.substr(9)); // sqlite:///abs -> /abs
  }
  if (dsn.starts_with("sqlite:")) {
    return std::string(dsn.substr(7));
  }
  return std::string(dsn);
}

// --- PostgreSQL (libpq) ---

using PgResult = util::Handle<PGresult, PQclear>;

// Send a cancel request for what `conn` runs, on a thread of its own: PQcancel opens a new
// connection without a timeout, and a server that hangs must not hold the check past its deadline.
void
cancel_in_background(PGconn* conn)
{
  PGcancel* cancel = PQgetCancel(conn);
  if (cancel == nullptr) {
    return;
  }
  std::thread([cancel] {
    std::array<char, 256> buffer{};
    PQcancel(cancel, buffer.data(), static_cast<int>(buffer.size()));
    PQfreeCancel(cancel);
  }).detach();
}

Errc
pg_connect_errc(std::string_view message)
{
  if (message.find("password authentication failed") != std::string_view::npos
      || message.find("no password supplied") != std::string_view::npos
      || message.find("authentication failed") != std::string_view::npos
      || message.find("no pg_hba.conf entry") != std::string_view::npos
      || message.find("permission denied") != std::string_view::npos) {
    return Errc::permission;
  }
  if (message.find("certificate") != std::string_view::npos
      || message.find("SSL") != std::string_view::npos) {
    return Errc::tls;
  }
  if (message.find("does not exist") != std::string_view::npos) {
    return Errc::protocol;
  }
  return Errc::network;
}

class PgConnection final : public SqlConnection
{
public:
  PgConnection(PGconn* conn, SqlTarget target)
      : m_conn(conn),
        m_target(std::move(target))
  {
    const int version = PQserverVersion(conn);
    m_version = version >= 100000
                  ? fmt::format("{}.{}", version / 10000, version % 10000)
                  : fmt::format("{}.{}.{}", version / 10000, (version / 100) % 100, version % 100);
  }

  Result<SqlRows>
  query(std::string_view sql, Clock::time_point deadline, std::stop_token stop) override
  {
    if (m_broken) {
      return make_error(Errc::network,
                        fmt::format("{}: the connection was abandoned", m_target.describe()));
    }
    const std::string text(sql);
    // The extended protocol runs exactly one statement: "SELECT 1; DELETE ..." is refused.
    if (PQsendQueryParams(m_conn.get(), text.c_str(), 0, nullptr, nullptr, nullptr, nullptr, 0)
        == 0) {
      return make_error(
        Errc::network,
        fmt::format("{}: {}", m_target.describe(), one_line(PQerrorMessage(m_conn.get()))));
    }
    while (PQisBusy(m_conn.get()) != 0) {
      auto ready = wait_fd(PQsocket(m_conn.get()), POLLIN, deadline, stop, m_target, "querying");
      if (!ready) {
        cancel_in_background(m_conn.get());
        m_broken = true;
        return std::move(ready).error();
      }
      if (PQconsumeInput(m_conn.get()) == 0) {
        m_broken = true;
        return make_error(
          Errc::network,
          fmt::format("{}: {}", m_target.describe(), one_line(PQerrorMessage(m_conn.get()))));
      }
    }
    Result<SqlRows> outcome =
      make_error(Errc::protocol, fmt::format("{}: the server sent no result", m_target.describe()));
    bool have = false;
    while (PGresult* raw = PQgetResult(m_conn.get())) {
      PgResult result(raw);
      if (have) {
        continue; // drain
      }
      have = true;
      const auto status = PQresultStatus(raw);
      if (status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK) {
        SqlRows rows;
        const int columns = PQnfields(raw);
        for (int c = 0; c < columns; ++c) {
          rows.columns.emplace_back(PQfname(raw, c));
        }
        const int count = PQntuples(raw);
        rows.rows.reserve(static_cast<std::size_t>(count));
        for (int r = 0; r < count; ++r) {
          SqlRow row;
          row.reserve(static_cast<std::size_t>(columns));
          for (int c = 0; c < columns; ++c) {
            if (PQgetisnull(raw, r, c) != 0) {
              row.emplace_back(std::nullopt);
            } else {
              row.emplace_back(std::string(PQgetvalue(raw, r, c),
                                           static_cast<std::size_t>(PQgetlength(raw, r, c))));
            }
          }
          rows.rows.push_back(std::move(row));
        }
        outcome = std::move(rows);
      } else {
        const char* state = PQresultErrorField(raw, PG_DIAG_SQLSTATE);
        const std::string_view sqlstate = state != nullptr ? state : "";
        const Errc code = sqlstate == "42501"          ? Errc::permission
                          : sqlstate == "57014"        ? Errc::timeout
                          : sqlstate.starts_with("08") ? Errc::network
                                                       : Errc::protocol;
        outcome = make_error(
          code, fmt::format("{}: {}", m_target.describe(), one_line(PQresultErrorMessage(raw))));
      }
    }
    return outcome;
  }

  std::string
  server_version() const override
  {
    return m_version;
  }
  const SqlTarget&
  target() const override
  {
    return m_target;
  }

private:
  util::Handle<PGconn, PQfinish> m_conn;
  SqlTarget m_target;
  std::string m_version;
  bool m_broken = false;
};

Result<SqlTarget>
parse_pg_dsn(const Secret& dsn)
{
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(dsn.reveal().c_str(), &error);
  if (options == nullptr) {
    PQfreemem(error);
    // libpq's message quotes the text it choked on, which may be part of the password.
    return make_error(Errc::config,
                      "the postgres DSN is malformed: expected postgresql://user:password@host:"
                      "port/database or libpq's key=value form");
  }
  SqlTarget target;
  target.driver = SqlDriver::postgres;
  for (const auto* option = options; option->keyword != nullptr; ++option) {
    if (option->val == nullptr) {
      continue;
    }
    const std::string_view keyword = option->keyword;
    if (keyword == "host" || (keyword == "hostaddr" && target.host.empty())) {
      target.host = option->val;
    } else if (keyword == "port") {
      target.port = option->val;
    } else if (keyword == "user") {
      target.user = option->val;
    } else if (keyword == "dbname") {
      target.database = option->val;
    }
  }
  PQconninfoFree(options);
  return target;
}

Result<std::unique_ptr<SqlConnection>>
pg_connect(const Secret& dsn, Clock::time_point deadline, const std::stop_token& stop)
{
  RG_TRY_ASSIGN(auto target, parse_pg_dsn(dsn));
  const std::array<const char*, 3> keys{"application_name", "dbname", nullptr};
  const std::array<const char*, 3> values{"readygate", dsn.reveal().c_str(), nullptr};
  util::Handle<PGconn, PQfinish> conn(PQconnectStartParams(keys.data(), values.data(), 1));
  if (!conn) {
    return make_error(Errc::internal, "libpq could not allocate a connection");
  }
  const Redactor redactor(dsn_secrets(dsn));
  const auto failure = [&](PGconn* c) {
    const std::string message = one_line(PQerrorMessage(c), redactor);
    return make_error(pg_connect_errc(message),
                      redactor.redact(fmt::format("{}: {}", target.describe(), message)));
  };
  if (PQstatus(conn.get()) == CONNECTION_BAD) {
    return failure(conn.get());
  }
  auto polling = PGRES_POLLING_WRITING;
  while (polling != PGRES_POLLING_OK) {
    if (polling == PGRES_POLLING_FAILED) {
      return failure(conn.get());
    }
    auto ready = wait_fd(PQsocket(conn.get()),
                         polling == PGRES_POLLING_READING ? POLLIN : POLLOUT,
                         deadline,
                         stop,
                         target,
                         "connecting");
    if (!ready) {
      return std::move(ready).error();
    }
    polling = PQconnectPoll(conn.get());
  }
  auto connection = std::make_unique<PgConnection>(conn.release(), std::move(target));
  // Every statement in a read-only transaction, and none outliving the check's deadline.
  const auto left = std::max<std::int64_t>(time_left(deadline).count(), 1);
  RG_TRY(connection->query("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY", deadline, stop));
  RG_TRY(connection->query(fmt::format("SET statement_timeout = {}", left), deadline, stop));
  RG_TRY(connection->query("SET lock_timeout = 1000", deadline, stop));
  return std::unique_ptr<SqlConnection>(std::move(connection));
}

// --- MySQL / MariaDB (libmariadb, non-blocking API) ---

Errc
mysql_errc(unsigned code)
{
  switch (code) {
  case 1044: // ER_DBACCESS_DENIED_ERROR
  case 1045: // ER_ACCESS_DENIED_ERROR
  case 1142: // ER_TABLEACCESS_DENIED_ERROR
  case 1143: // ER_COLUMNACCESS_DENIED_ERROR
  case 1227: // ER_SPECIFIC_ACCESS_DENIED_ERROR
  case 1698: // ER_ACCESS_DENIED_NO_PASSWORD_ERROR
    return Errc::permission;
  case 1969: // ER_STATEMENT_TIMEOUT (MariaDB max_statement_time)
  case 3024: // ER_QUERY_TIMEOUT (MySQL max_execution_time)
    return Errc::timeout;
  case 2002: // CR_CONNECTION_ERROR
  case 2003: // CR_CONN_HOST_ERROR
  case 2005: // CR_UNKNOWN_HOST
  case 2006: // CR_SERVER_GONE_ERROR
  case 2013: // CR_SERVER_LOST
    return Errc::network;
  case 2026: // CR_SSL_CONNECTION_ERROR
    return Errc::tls;
  default:
    return Errc::protocol;
  }
}

// Drive one non-blocking libmariadb call: `status` is what *_start returned; `next(ready)` is
// the matching *_cont. Return the final status 0, or the error of a deadline or stop.
template <typename Cont>
Result<void>
mysql_drive(MYSQL* mysql,
            int status,
            Cont&& next,
            Clock::time_point deadline,
            const std::stop_token& stop,
            const SqlTarget& target,
            std::string_view what)
{
  while (status != 0) {
    short events = 0;
    if ((status & MYSQL_WAIT_READ) != 0) {
      events |= POLLIN;
    }
    if ((status & MYSQL_WAIT_WRITE) != 0) {
      events |= POLLOUT;
    }
    if ((status & MYSQL_WAIT_EXCEPT) != 0) {
      events |= POLLPRI;
    }
    auto wait_until = deadline;
    if ((status & MYSQL_WAIT_TIMEOUT) != 0) {
      wait_until = std::min(
        deadline,
        time_after(Clock::now(), std::chrono::milliseconds(mysql_get_timeout_value_ms(mysql))));
    }
    int ready_status = 0;
    auto ready = wait_fd(mysql_get_socket(mysql), events, wait_until, stop, target, what);
    if (!ready) {
      if (ready.error().code == Errc::timeout && wait_until < deadline) {
        ready_status = MYSQL_WAIT_TIMEOUT;
      } else {
        return std::move(ready).error();
      }
    } else {
      if ((*ready & (POLLIN | POLLHUP | POLLERR)) != 0) {
        ready_status |= MYSQL_WAIT_READ;
      }
      if ((*ready & POLLOUT) != 0) {
        ready_status |= MYSQL_WAIT_WRITE;
      }
      if ((*ready & POLLPRI) != 0) {
        ready_status |= MYSQL_WAIT_EXCEPT;
      }
    }
    status = next(ready_status);
  }
  return {};
}

class MysqlConnection final : public SqlConnection
{
public:
  MysqlConnection(MYSQL* mysql, SqlTarget target)
      : m_mysql(mysql),
        m_target(std::move(target)),
        m_version(mysql_get_server_info(mysql))
  {}

  Result<SqlRows>
  query(std::string_view sql, Clock::time_point deadline, std::stop_token stop) override
  {
    if (m_broken) {
      return make_error(Errc::network,
                        fmt::format("{}: the connection was abandoned", m_target.describe()));
    }
    MYSQL* mysql = m_mysql.get();
    int error = 0;
    int status = mysql_real_query_start(&error, mysql, sql.data(), sql.size());
    auto sent = mysql_drive(
      mysql,
      status,
      [&](int ready) { return mysql_real_query_cont(&error, mysql, ready); },
      deadline,
      stop,
      m_target,
      "querying");
    if (!sent) {
      m_broken = true;
      return std::move(sent).error();
    }
    if (error != 0) {
      return server_error();
    }
    MYSQL_RES* raw = nullptr;
    status = mysql_store_result_start(&raw, mysql);
    auto stored = mysql_drive(
      mysql,
      status,
      [&](int ready) { return mysql_store_result_cont(&raw, mysql, ready); },
      deadline,
      stop,
      m_target,
      "reading rows");
    if (!stored) {
      m_broken = true;
      return std::move(stored).error();
    }
    util::Handle<MYSQL_RES, mysql_free_result> result(raw);
    SqlRows rows;
    if (!result) {
      if (mysql_field_count(mysql) != 0) {
        return server_error();
      }
      return rows; // a statement without rows
    }
    const unsigned columns = mysql_num_fields(raw);
    const MYSQL_FIELD* fields = mysql_fetch_fields(raw);
    for (unsigned c = 0; c < columns; ++c) {
      rows.columns.emplace_back(fields[c].name, fields[c].name_length);
    }
    while (MYSQL_ROW values = mysql_fetch_row(raw)) {
      const unsigned long* lengths = mysql_fetch_lengths(raw);
      SqlRow row;
      for (unsigned c = 0; c < columns; ++c) {
        if (values[c] == nullptr) {
          row.emplace_back(std::nullopt);
        } else {
          row.emplace_back(std::string(values[c], lengths[c]));
        }
      }
      rows.rows.push_back(std::move(row));
    }
    return rows;
  }

  std::string
  server_version() const override
  {
    return m_version;
  }
  const SqlTarget&
  target() const override
  {
    return m_target;
  }

private:
  util::Error
  server_error() const
  {
    const unsigned code = mysql_errno(m_mysql.get());
    return make_error(
      mysql_errc(code),
      fmt::format(
        "{}: {} (error {})", m_target.describe(), one_line(mysql_error(m_mysql.get())), code));
  }

  util::Handle<MYSQL, mysql_close> m_mysql;
  SqlTarget m_target;
  std::string m_version;
  bool m_broken = false;
};

Result<std::unique_ptr<SqlConnection>>
mysql_connect(const Secret& dsn, Clock::time_point deadline, const std::stop_token& stop)
{
  RG_TRY_ASSIGN(auto parsed, parse_url_dsn(SqlDriver::mysql, dsn.reveal(), "mysql|mariadb"));
  std::string socket_path;
  std::optional<std::string> ssl_mode;
  std::string ssl_ca;
  for (const auto& [key, value] : parsed.params) {
    if (key == "socket") {
      socket_path = value;
    } else if (key == "ssl-mode" || key == "sslmode") {
      ssl_mode = to_lower(value);
    } else if (key == "ssl-ca" || key == "sslrootcert") {
      ssl_ca = value;
    } else {
      return make_error(
        Errc::config,
        fmt::format("the mysql DSN has an unknown parameter \"{}\" (expected socket, ssl-mode, "
                    "ssl-ca)",
                    printable(key)));
    }
  }
  if (ssl_mode && *ssl_mode != "disabled" && *ssl_mode != "required" && *ssl_mode != "verify-ca"
      && *ssl_mode != "verify_ca" && *ssl_mode != "verify_identity"
      && *ssl_mode != "verify-identity" && *ssl_mode != "preferred") {
    return make_error(Errc::config,
                      fmt::format("the mysql DSN's ssl-mode \"{}\" is not one of disabled, "
                                  "preferred, required, verify_ca, verify_identity",
                                  printable(*ssl_mode)));
  }
  if (!socket_path.empty() && parsed.target.host.empty()) {
    parsed.target.host = socket_path;
  }
  const auto& target = parsed.target;
  util::Handle<MYSQL, mysql_close> mysql(mysql_init(nullptr));
  if (!mysql) {
    return make_error(Errc::internal, "libmariadb could not allocate a connection");
  }
  mysql_options(mysql.get(), MYSQL_OPT_NONBLOCK, nullptr);
  mysql_options(mysql.get(), MYSQL_SET_CHARSET_NAME, "utf8mb4");
  // Do not read ~/.my.cnf or /etc/mysql: the DSN says everything.
  const my_bool yes = 1;
  const my_bool no = 0;
  if (ssl_mode && *ssl_mode != "disabled" && *ssl_mode != "preferred") {
    mysql_options(mysql.get(), MYSQL_OPT_SSL_ENFORCE, &yes);
    const bool verify = ssl_mode->starts_with("verify");
    mysql_options(mysql.get(), MYSQL_OPT_SSL_VERIFY_SERVER_CERT, verify ? &yes : &no);
  }
  if (!ssl_ca.empty()) {
    mysql_options(mysql.get(), MYSQL_OPT_SSL_CA, ssl_ca.c_str());
  }
  const unsigned port = target.port.empty() ? 0U : static_cast<unsigned>(std::stoul(target.port));
  const bool by_socket = !socket_path.empty();
  MYSQL* connected = nullptr;
  int status = mysql_real_connect_start(&connected,
                                        mysql.get(),
                                        by_socket             ? "localhost"
                                        : target.host.empty() ? "127.0.0.1"
                                                              : target.host.c_str(),
                                        target.user.empty() ? nullptr : target.user.c_str(),
                                        parsed.password.c_str(),
                                        target.database.empty() ? nullptr : target.database.c_str(),
                                        port,
                                        by_socket ? socket_path.c_str() : nullptr,
                                        0);
  RG_TRY(mysql_drive(
    mysql.get(),
    status,
    [&](int ready) { return mysql_real_connect_cont(&connected, mysql.get(), ready); },
    deadline,
    stop,
    target,
    "connecting"));
  if (connected == nullptr) {
    const unsigned code = mysql_errno(mysql.get());
    const Redactor redactor(dsn_secrets(dsn));
    return make_error(mysql_errc(code),
                      redactor.redact(fmt::format("{}: {} (error {})",
                                                  target.describe(),
                                                  one_line(mysql_error(mysql.get()), redactor),
                                                  code)));
  }
  auto connection = std::make_unique<MysqlConnection>(mysql.release(), target);
  const auto left = std::max<std::int64_t>(time_left(deadline).count(), 1);
  const bool mariadb = connection->server_version().find("MariaDB") != std::string::npos;
  RG_TRY(connection->query(mariadb ? fmt::format("SET SESSION max_statement_time = {:.3f}",
                                                 static_cast<double>(left) / 1000)
                                   : fmt::format("SET SESSION max_execution_time = {}", left),
                           deadline,
                           stop));
  RG_TRY(connection->query("SET SESSION TRANSACTION READ ONLY", deadline, stop));
  RG_TRY(connection->query("START TRANSACTION READ ONLY", deadline, stop));
  return std::unique_ptr<SqlConnection>(std::move(connection));
}

// --- SQLite ---

class SqliteConnection final : public SqlConnection
{
public:
  SqliteConnection(sqlite3* db, SqlTarget target)
      : m_db(db),
        m_target(std::move(target))
  {
    sqlite3_progress_handler(db, 1000, &SqliteConnection::progress, this);
  }

  Result<SqlRows>
  query(std::string_view sql, Clock::time_point deadline, std::stop_token stop) override
  {
    sqlite3* db = m_db.get();
    {
      const std::lock_guard lock(m_mutex);
      m_deadline = deadline;
      m_stop = stop;
    }
    sqlite3_busy_timeout(
      db, static_cast<int>(std::clamp<std::int64_t>(time_left(deadline).count(), 1, 1 << 30)));
    sqlite3_stmt* raw = nullptr;
    const char* tail = nullptr;
    int rc = sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &raw, &tail);
    util::Handle<sqlite3_stmt, sqlite3_finalize> statement(raw);
    if (rc != SQLITE_OK) {
      return error(rc);
    }
    if (!statement) {
      return make_error(Errc::protocol, fmt::format("{}: an empty statement", m_target.describe()));
    }
    for (const char* at = tail; at != nullptr && at < sql.data() + sql.size(); ++at) {
      if (std::isspace(static_cast<unsigned char>(*at)) == 0 && *at != ';') {
        return make_error(Errc::config,
                          fmt::format("{}: more than one statement", m_target.describe()));
      }
    }
    if (sqlite3_stmt_readonly(raw) == 0) {
      return make_error(Errc::config,
                        fmt::format("{}: not a read-only statement", m_target.describe()));
    }
    SqlRows rows;
    const int columns = sqlite3_column_count(raw);
    for (int c = 0; c < columns; ++c) {
      const char* name = sqlite3_column_name(raw, c);
      rows.columns.emplace_back(name != nullptr ? name : "");
    }
    while ((rc = sqlite3_step(raw)) == SQLITE_ROW) {
      SqlRow row;
      for (int c = 0; c < columns; ++c) {
        if (sqlite3_column_type(raw, c) == SQLITE_NULL) {
          row.emplace_back(std::nullopt);
        } else {
          const auto* text = sqlite3_column_text(raw, c);
          const int length = sqlite3_column_bytes(raw, c);
          row.emplace_back(
            std::string(reinterpret_cast<const char*>(text), static_cast<std::size_t>(length)));
        }
      }
      rows.rows.push_back(std::move(row));
    }
    if (rc != SQLITE_DONE) {
      return error(rc);
    }
    return rows;
  }

  std::string
  server_version() const override
  {
    return sqlite3_libversion();
  }
  const SqlTarget&
  target() const override
  {
    return m_target;
  }

private:
  static int
  progress(void* self)
  {
    auto* connection = static_cast<SqliteConnection*>(self);
    const std::lock_guard lock(connection->m_mutex);
    connection->m_interrupted_by_stop = connection->m_stop.stop_requested();
    return connection->m_interrupted_by_stop || Clock::now() >= connection->m_deadline ? 1 : 0;
  }

  util::Error
  error(int rc) const
  {
    if (rc == SQLITE_INTERRUPT) {
      return m_interrupted_by_stop
               ? make_error(Errc::cancelled, fmt::format("{}: stopped", m_target.describe()))
               : make_error(Errc::timeout,
                            fmt::format("{}: the statement did not finish before the deadline",
                                        m_target.describe()));
    }
    const Errc code = rc == SQLITE_BUSY || rc == SQLITE_LOCKED      ? Errc::timeout
                      : rc == SQLITE_PERM || rc == SQLITE_AUTH      ? Errc::permission
                      : rc == SQLITE_IOERR || rc == SQLITE_CANTOPEN ? Errc::io
                                                                    : Errc::protocol;
    return make_error(
      code, fmt::format("{}: {}", m_target.describe(), one_line(sqlite3_errmsg(m_db.get()))));
  }

  util::Handle<sqlite3, sqlite3_close_v2> m_db;
  SqlTarget m_target;
  std::mutex m_mutex;
  Clock::time_point m_deadline;
  std::stop_token m_stop;
  bool m_interrupted_by_stop = false;
};

Result<std::unique_ptr<SqlConnection>>
sqlite_connect(const Secret& dsn, Clock::time_point deadline, const std::stop_token& stop)
{
  RG_TRY_ASSIGN(auto target, parse_sql_dsn(SqlDriver::sqlite, dsn));
  const bool uri = target.database.starts_with("file:");
  if (!uri) {
    struct stat info
    {
    };
    if (::stat(target.database.c_str(), &info) != 0) {
      const int saved = errno;
      return make_error(saved == EACCES ? Errc::permission : Errc::io,
                        fmt::format("{}: {}", target.describe(), std::strerror(saved)));
    }
    if (!S_ISREG(info.st_mode)) {
      return make_error(Errc::io, fmt::format("{}: not a regular file", target.describe()));
    }
  }
  sqlite3* raw = nullptr;
  const int rc =
    sqlite3_open_v2(target.database.c_str(),
                    &raw,
                    SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX | (uri ? SQLITE_OPEN_URI : 0),
                    nullptr);
  util::Handle<sqlite3, sqlite3_close_v2> db(raw);
  if (rc != SQLITE_OK) {
    return make_error(rc == SQLITE_PERM ? Errc::permission : Errc::io,
                      fmt::format("{}: {}",
                                  target.describe(),
                                  raw != nullptr ? one_line(sqlite3_errmsg(raw))
                                                 : std::string(sqlite3_errstr(rc))));
  }
  auto connection = std::make_unique<SqliteConnection>(db.release(), std::move(target));
  RG_TRY(connection->query("PRAGMA query_only", deadline, stop));
  // A file that is not a database opens fine; the first read says so.
  RG_TRY(connection->query("SELECT count(*) FROM sqlite_master", deadline, stop));
  return std::unique_ptr<SqlConnection>(std::move(connection));
}

class RealSqlConnector final : public SqlConnector
{
public:
  Result<std::unique_ptr<SqlConnection>>
  connect(SqlDriver driver,
          const Secret& dsn,
          Clock::time_point deadline,
          std::stop_token stop) override
  {
    if (dsn.empty()) {
      return make_error(Errc::config, "the DSN is empty");
    }
    switch (driver) {
    case SqlDriver::postgres:
      return pg_connect(dsn, deadline, stop);
    case SqlDriver::mysql:
      return mysql_connect(dsn, deadline, stop);
    case SqlDriver::sqlite:
      return sqlite_connect(dsn, deadline, stop);
    }
    return make_error(Errc::internal, "unknown SQL driver");
  }
};

} // namespace

std::string_view
sql_driver_name(SqlDriver driver)
{
  switch (driver) {
  case SqlDriver::postgres:
    return "postgres";
  case SqlDriver::mysql:
    return "mysql";
  case SqlDriver::sqlite:
    return "sqlite";
  }
  return "?";
}

std::optional<SqlDriver>
sql_driver_from_name(std::string_view name)
{
  for (const auto driver : {SqlDriver::postgres, SqlDriver::mysql, SqlDriver::sqlite}) {
    if (sql_driver_name(driver) == name) {
      return driver;
    }
  }
  return std::nullopt;
}

std::string
SqlTarget::describe() const
{
  if (driver == SqlDriver::sqlite) {
    return fmt::format("sqlite {}", printable(database));
  }
  std::string text(sql_driver_name(driver));
  text += ' ';
  if (!user.empty()) {
    text += printable(user);
    text += '@';
  }
  const bool v6 = host.find(':') != std::string::npos && !host.starts_with('/');
  text += host.empty() ? std::string("localhost") : v6 ? "[" + host + "]" : printable(host);
  if (!port.empty()) {
    text += ':';
    text += printable(port);
  }
  text += '/';
  text += printable(database);
  return text;
}

std::vector<Secret>
dsn_secrets(const Secret& dsn)
{
  std::vector<Secret> secrets{dsn};
  const std::string_view text = dsn.reveal();
  std::string password;
  if (const auto scheme_end = text.find("://"); scheme_end != std::string_view::npos) {
    auto authority = text.substr(scheme_end + 3);
    authority = authority.substr(0, authority.find_first_of("/?"));
    const auto at = authority.rfind('@');
    const auto colon = authority.substr(0, at).find(':');
    if (at != std::string_view::npos && colon != std::string_view::npos) {
      const auto written = authority.substr(colon + 1, at - colon - 1);
      password = percent_decode(written).value_or(std::string(written));
    }
  } else if (text.find('=') != std::string_view::npos) {
    // libpq's key=value form; libpq reads it (quotes and backslashes included) for us.
    char* error = nullptr;
    PQconninfoOption* options = PQconninfoParse(dsn.reveal().c_str(), &error);
    PQfreemem(error);
    if (options != nullptr) {
      for (const auto* option = options; option->keyword != nullptr; ++option) {
        if (option->val != nullptr && std::string_view(option->keyword) == "password") {
          password = option->val;
        }
      }
      PQconninfoFree(options);
    }
  }
  if (!password.empty()) {
    secrets.emplace_back(std::move(password));
  }
  return secrets;
}

Result<SqlTarget>
parse_sql_dsn(SqlDriver driver, const Secret& dsn)
{
  if (dsn.reveal().find('\0') != std::string::npos) {
    return make_error(Errc::config, "the DSN has a NUL byte");
  }
  switch (driver) {
  case SqlDriver::postgres:
    return parse_pg_dsn(dsn);
  case SqlDriver::mysql: {
    RG_TRY_ASSIGN(auto parsed, parse_url_dsn(driver, dsn.reveal(), "mysql|mariadb"));
    for (const auto& [key, value] : parsed.params) {
      if (key == "socket" && parsed.target.host.empty()) {
        parsed.target.host = value;
      }
    }
    return parsed.target;
  }
  case SqlDriver::sqlite: {
    SqlTarget target;
    target.driver = driver;
    target.database = sqlite_path(dsn.reveal());
    if (target.database.empty()) {
      return make_error(Errc::config, "the sqlite DSN names no file");
    }
    return target;
  }
  }
  return make_error(Errc::internal, "unknown SQL driver");
}

std::shared_ptr<SqlConnector>
SqlConnector::make_real()
{
  // libmariadb's library set-up is not thread-safe; do it once before any thread connects.
  static const int initialised = mysql_library_init(0, nullptr, nullptr);
  (void)initialised;
  return std::make_shared<RealSqlConnector>();
}

} // namespace util
