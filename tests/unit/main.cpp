#define CATCH_CONFIG_RUNNER
#include <hook/util/http.hpp>

#include <catch2/catch.hpp>

int
main(int argc, char* argv[])
{
  util::CurlHttpClient::global_init();
  return Catch::Session().run(argc, argv);
}
