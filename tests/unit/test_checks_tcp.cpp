// The tcp kind: parsing `address`, judging the connect, and running against real loopback sockets.
#include "testutil.hpp"

#include <checks/tcp.hpp>

#include <fmt/format.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

using namespace std::chrono_literals;
using hook::Status;

namespace {

const testutil::KindHarness<checks::TcpSpec> k_tcp{"tcp", "db", &checks::parse_tcp};

util::Result<checks::TcpSpec>
parse(std::string_view keys)
{
  return k_tcp.parse(keys);
}

// A listening socket on 127.0.0.1; closed at scope exit.
class Listener
{
public:
  Listener()
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
  ~Listener() { close(m_fd); }
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;
  std::uint16_t
  port() const
  {
    return m_port;
  }

private:
  int m_fd;
  std::uint16_t m_port = 0;
};

hook::CheckContext
context(std::chrono::milliseconds left = 2s)
{
  return testutil::context(left);
}

} // namespace

TEST_CASE("checks::parse_tcp: host:port and [v6]:port", "[tcp]")
{
  const auto v4 = parse(R"(address = "127.0.0.1:5432")");
  REQUIRE(v4);
  CHECK(v4->address.host == "127.0.0.1");
  CHECK(v4->address.port == 5432);
  const auto v6 = parse(R"(address = "[::1]:80")");
  REQUIRE(v6);
  CHECK(v6->address.host == "::1");
}

TEST_CASE("checks::parse_tcp: a bad address is a config error naming the key", "[tcp]")
{
  for (const auto* bad : {"127.0.0.1", "127.0.0.1:0", "127.0.0.1:70000", "::1:80", ":80"}) {
    INFO(bad);
    const auto spec = parse(fmt::format("address = \"{}\"", bad));
    REQUIRE_FALSE(spec);
    CHECK(spec.error().code == util::Errc::config);
    CHECK_THAT(spec.error().message,
               Catch::StartsWith("test.toml:")
                 && Catch::Contains("check \"db\" (tcp): key \"address\": "));
  }
  const auto missing = parse("");
  REQUIRE_FALSE(missing);
  CHECK_THAT(missing.error().message, Catch::Contains("missing key \"address\""));
  const auto unknown = parse("adress = \"127.0.0.1:80\"");
  REQUIRE_FALSE(unknown);
  CHECK_THAT(unknown.error().message,
             Catch::Contains("unknown key \"adress\" (did you mean \"address\"?)"));
  // A NUL byte would cut the C string: "127.0.0.1:80" would be checked, not what was written.
  const auto nul = parse("address = \"127.0.0.1:80\\u0000.evil:81\"");
  REQUIRE_FALSE(nul);
  CHECK_THAT(nul.error().message, Catch::Contains("key \"address\": the address has a NUL byte"));
}

TEST_CASE("checks::evaluate_tcp: connected passes, anything else is an error", "[tcp]")
{
  const checks::TcpSpec spec{{"::1", 443}};
  const auto passed = checks::evaluate_tcp(spec, std::chrono::milliseconds(3));
  CHECK(passed.status == Status::pass);
  CHECK(passed.message == "[::1]:443: connected in 3 ms");
  const auto refused =
    checks::evaluate_tcp(spec,
                         util::Result<std::chrono::milliseconds>(
                           util::make_error(util::Errc::network, "[::1]:443: connection refused")));
  CHECK(refused.status == Status::error);
  CHECK(refused.message == "[::1]:443: connection refused");
  // No answer in time is not a pass: nothing was seen to accept connections.
  const auto timed_out =
    checks::evaluate_tcp(spec,
                         util::Result<std::chrono::milliseconds>(util::make_error(
                           util::Errc::timeout, "[::1]:443: no connection within 3s")));
  CHECK(timed_out.status == Status::error);
  CHECK(timed_out.message == "[::1]:443: no connection within 3s");
}

TEST_CASE("checks::create_tcp_check: run passes on a listening port, errors on a closed one",
          "[tcp]")
{
  std::uint16_t closed = 0;
  {
    const Listener listener;
    const auto check = checks::create_tcp_check(testutil::spec_from(fmt::format(
      "[[check]]\nid = \"db\"\nkind = \"tcp\"\naddress = \"127.0.0.1:{}\"\n", listener.port())));
    REQUIRE(check);
    const auto result = (*check)->run(context());
    INFO(result.message);
    CHECK(result.status == Status::pass);
    closed = listener.port();
  }
  const auto check = checks::create_tcp_check(testutil::spec_from(
    fmt::format("[[check]]\nid = \"db\"\nkind = \"tcp\"\naddress = \"127.0.0.1:{}\"\n", closed)));
  REQUIRE(check);
  const auto result = (*check)->run(context());
  CHECK(result.status == Status::error);
  CHECK(result.message == fmt::format("127.0.0.1:{}: connection refused", closed));
}

namespace {

// A TCP probe that answers what it is told and records what it was asked.
class FakeConnector final : public util::TcpConnector
{
public:
  explicit FakeConnector(util::Result<std::chrono::milliseconds> answer)
      : m_answer(std::move(answer))
  {}
  util::Result<std::chrono::milliseconds>
  connect(const std::string& host,
          std::uint16_t port,
          std::chrono::milliseconds timeout,
          std::stop_token) override
  {
    asked = fmt::format("{}:{} within {} ms", host, port, timeout.count());
    return m_answer;
  }
  std::string asked;

private:
  util::Result<std::chrono::milliseconds> m_answer;
};

} // namespace

TEST_CASE("checks::run_tcp: asks the probe for the address with the time left, and judges its "
          "answer",
          "[tcp]")
{
  const auto spec = parse("address = \"db.internal:5432\"");
  REQUIRE(spec);
  auto ctx = context(1500ms);
  const auto passing = std::make_shared<FakeConnector>(std::chrono::milliseconds(7));
  ctx.probes.install<util::TcpConnector>(passing);
  const auto passed = checks::run_tcp(*spec, ctx);
  CHECK(passed.status == Status::pass);
  CHECK(passed.message == "db.internal:5432: connected in 7 ms");
  CHECK_THAT(passing->asked, Catch::StartsWith("db.internal:5432 within 1"));

  for (const auto code : {util::Errc::timeout, util::Errc::network, util::Errc::cancelled}) {
    hook::CheckContext failing_ctx = context();
    failing_ctx.probes.install<util::TcpConnector>(
      std::make_shared<FakeConnector>(util::make_error(code, "db.internal:5432: did not connect")));
    const auto failed = checks::run_tcp(*spec, failing_ctx);
    CHECK(failed.status == Status::error); // never a pass, never a plain fail
    CHECK(failed.message == "db.internal:5432: did not connect");
  }
}
