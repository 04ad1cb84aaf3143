#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <hook/util/http.hpp>

int
main(int argc, char* argv[])
{
  util::CurlHttpClient::global_init();
  return Catch::Session().run(argc, argv);
}
