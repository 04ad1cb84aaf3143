// The SQL probe: DSNs never leak their password, SQLite for real (read-only, one statement, the
// deadline), and PostgreSQL/MariaDB clients against a socket that never answers or is closed.
#include "testutil.hpp"

#include <hook/util/sql.hpp>

#include <fmt/format.h>

#include <netinet/in.h>
#include <sqlite3.h>
#include <sys/socket.h>
#include <unistd.h>

using namespace std::chrono_literals;

namespace {

util::Result<util::SqlTarget>
parse(util::SqlDriver driver, std::string dsn)
{
  return util::parse_sql_dsn(driver, util::Secret(std::move(dsn)));
}

// A socket on 127.0.0.1 that takes connections (the kernel's backlog) and never says a word.
class SilentServer
{
public:
  SilentServer()
      : m_fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0))
  {
    REQUIRE(m_fd >= 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(bind(m_fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    REQUIRE(listen(m_fd, 16) == 0);
    socklen_t length = sizeof address;
    REQUIRE(getsockname(m_fd, reinterpret_cast<sockaddr*>(&address), &length) == 0);
    m_port = ntohs(address.sin_port);
  }
  ~SilentServer() { close(m_fd); }
  SilentServer(const SilentServer&) = delete;
  SilentServer& operator=(const SilentServer&) = delete;
  std::uint16_t
  port() const
  {
    return m_port;
  }

private:
  int m_fd;
  std::uint16_t m_port = 0;
};

// A port nothing listens on (bound, then closed).
std::uint16_t
closed_port()
{
  std::uint16_t port = 0;
  {
    SilentServer server;
    port = server.port();
  }
  return port;
}

void
make_sqlite(const std::filesystem::path& path, const char* sql)
{
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  char* error = nullptr;
  const int rc = sqlite3_exec(db, sql, nullptr, nullptr, &error);
  INFO((error != nullptr ? error : ""));
  sqlite3_free(error);
  sqlite3_close(db);
  REQUIRE(rc == SQLITE_OK);
}

} // namespace

TEST_CASE("util::parse_sql_dsn: the parts of each driver's DSN, never the password", "[sql]")
{
  const auto pg = parse(util::SqlDriver::postgres,
                        "postgresql://app:s%40cret@db.internal:6432/orders?sslmode=require");
  REQUIRE(pg);
  CHECK(pg->describe() == "postgres app@db.internal:6432/orders");
  const auto keywords =
    parse(util::SqlDriver::postgres, "host=/run/postgresql dbname=app user=web password=x");
  REQUIRE(keywords);
  CHECK(keywords->describe() == "postgres web@/run/postgresql/app");
  const auto my =
    parse(util::SqlDriver::mysql, "mysql://app:p%3Ass@[::1]:3306/shop?ssl-mode=required");
  REQUIRE(my);
  CHECK(my->describe() == "mysql app@[::1]:3306/shop");
  const auto socket =
    parse(util::SqlDriver::mysql, "mariadb://app:pw@/shop?socket=/run/mysqld/mysqld.sock");
  REQUIRE(socket);
  CHECK(socket->describe() == "mysql app@/run/mysqld/mysqld.sock/shop");
  CHECK(parse(util::SqlDriver::sqlite, "sqlite:///var/lib/app.db")->database == "/var/lib/app.db");
  CHECK(parse(util::SqlDriver::sqlite, "/var/lib/app.db")->describe() == "sqlite /var/lib/app.db");

  for (const auto* bad : {"mysql://app:pw@host:99999/db",
                          "http://app:pw@host/db",
                          "app:pw@host",
                          "mysql://a:%zz@h/d"}) {
    INFO(bad);
    const auto parsed = parse(util::SqlDriver::mysql, bad);
    REQUIRE_FALSE(parsed);
    CHECK(parsed.error().code == util::Errc::config);
    CHECK_THAT(parsed.error().message, !Catch::Contains("pw"));
  }
  const auto garbage = parse(util::SqlDriver::postgres, "host=x password=topsecret oops");
  REQUIRE_FALSE(garbage);
  CHECK_THAT(garbage.error().message, !Catch::Contains("topsecret") && !Catch::Contains("oops"));
}

TEST_CASE("util::dsn_secrets: the DSN, and its password alone, decoded", "[sql][secret]")
{
  const auto values = [](std::string dsn) {
    std::vector<std::string> out;
    for (const auto& secret : util::dsn_secrets(util::Secret(std::move(dsn)))) {
      out.push_back(secret.reveal());
    }
    return out;
  };
  using Values = std::vector<std::string>;
  CHECK(values("postgresql://app:p%22w%20d@db:5432/app?sslmode=require")
        == Values{"postgresql://app:p%22w%20d@db:5432/app?sslmode=require", "p\"w d"});
  CHECK(values("mysql://app:s3cr3t@db/app") == Values{"mysql://app:s3cr3t@db/app", "s3cr3t"});
  CHECK(values("host=db user=app password='s3 cr3t' dbname=app")
        == Values{"host=db user=app password='s3 cr3t' dbname=app", "s3 cr3t"});
  // No password: the DSN alone.
  CHECK(values("postgresql://app@db/app") == Values{"postgresql://app@db/app"});
  CHECK(values("/var/lib/app.db") == Values{"/var/lib/app.db"});
}

TEST_CASE("util::SqlConnector: SQLite read-only, rows as nullable text, one statement", "[sql]")
{
  testutil::TempDir dir;
  const auto path = dir.path() / "app.db";
  make_sqlite(path,
              "CREATE TABLE t (id INTEGER, name TEXT); INSERT INTO t VALUES (1, 'a'), (2, NULL);");
  const auto connector = util::SqlConnector::make_real();
  const auto deadline = util::Clock::now() + 5s;
  auto connection =
    connector->connect(util::SqlDriver::sqlite, util::Secret(path.string()), deadline, {});
  INFO(testutil::error_message(connection));
  REQUIRE(connection);
  auto rows = (*connection)->query("SELECT id, name FROM t ORDER BY id", deadline, {});
  REQUIRE(rows);
  CHECK(rows->columns == std::vector<std::string>{"id", "name"});
  REQUIRE(rows->rows.size() == 2);
  CHECK(rows->rows[0][1] == std::optional<std::string>("a"));
  CHECK_FALSE(rows->rows[1][1].has_value());
  const auto write = (*connection)->query("DELETE FROM t", deadline, {});
  REQUIRE_FALSE(write);
  CHECK_THAT(write.error().message, Catch::Contains("not a read-only statement"));
  CHECK_FALSE((*connection)->query("SELECT 1; DELETE FROM t", deadline, {}));
  // A query past the deadline is interrupted, not left running.
  const auto slow =
    (*connection)
      ->query(
        "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n) SELECT count(*) FROM n",
        util::Clock::now() + 200ms,
        {});
  REQUIRE_FALSE(slow);
  CHECK(slow.error().code == util::Errc::timeout);

  const auto missing = connector->connect(
    util::SqlDriver::sqlite, util::Secret((dir.path() / "nope.db").string()), deadline, {});
  REQUIRE_FALSE(missing);
  CHECK_THAT(missing.error().message, Catch::Contains("No such file"));
  CHECK_FALSE(std::filesystem::exists(dir.path() / "nope.db"));
  testutil::write_file(dir.path() / "text.db",
                       "this is not a database, it is a text file of some "
                       "length....................................................................."
                       ".................................");
  const auto not_db = connector->connect(
    util::SqlDriver::sqlite, util::Secret((dir.path() / "text.db").string()), deadline, {});
  REQUIRE_FALSE(not_db);
  CHECK_THAT(not_db.error().message, Catch::Contains("not a database"));
}

TEST_CASE("util::SqlConnector: a server that accepts and never answers ends at the deadline",
          "[sql]")
{
  SilentServer server;
  const auto connector = util::SqlConnector::make_real();
  for (const auto driver : {util::SqlDriver::postgres, util::SqlDriver::mysql}) {
    INFO(util::sql_driver_name(driver));
    const auto dsn = fmt::format("{}://app:pw-secret@127.0.0.1:{}/app",
                                 driver == util::SqlDriver::postgres ? "postgresql" : "mysql",
                                 server.port());
    const auto started = util::Clock::now();
    const auto connection = connector->connect(driver, util::Secret(dsn), started + 400ms, {});
    const auto took = util::Clock::now() - started;
    REQUIRE_FALSE(connection);
    CHECK(connection.error().code == util::Errc::timeout);
    CHECK_THAT(connection.error().message,
               Catch::Contains("app@127.0.0.1:") && !Catch::Contains("pw-secret"));
    CHECK(took >= 390ms);
    CHECK(took < 3s);
  }
}

TEST_CASE("util::SqlConnector: a closed port is a network error, and a stop cancels", "[sql]")
{
  const auto port = closed_port();
  const auto connector = util::SqlConnector::make_real();
  for (const auto driver : {util::SqlDriver::postgres, util::SqlDriver::mysql}) {
    INFO(util::sql_driver_name(driver));
    const auto dsn = fmt::format("{}://app:pw-secret@127.0.0.1:{}/app",
                                 driver == util::SqlDriver::postgres ? "postgresql" : "mysql",
                                 port);
    const auto connection =
      connector->connect(driver, util::Secret(dsn), util::Clock::now() + 5s, {});
    REQUIRE_FALSE(connection);
    CHECK(connection.error().code == util::Errc::network);
    CHECK_THAT(connection.error().message, !Catch::Contains("pw-secret"));
  }
  SilentServer server;
  std::stop_source stop;
  stop.request_stop();
  const auto stopped = connector->connect(
    util::SqlDriver::postgres,
    util::Secret(fmt::format("postgresql://app:pw@127.0.0.1:{}/app", server.port())),
    util::Clock::now() + 5s,
    stop.get_token());
  REQUIRE_FALSE(stopped);
  CHECK(stopped.error().code == util::Errc::cancelled);
}
