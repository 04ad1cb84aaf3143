// Boost.Process v2 (Boost 1.81) for hook/util/subprocess.cpp only: include it through here, never
// directly, so the workaround below is always in front of it.
#pragma once

// The library is not prebuilt: hook/util/subprocess.cpp compiles its sources once
// (<boost/process/v2/src.hpp>), and every includer links against that.
#ifndef BOOST_PROCESS_V2_SEPARATE_COMPILATION
#  define BOOST_PROCESS_V2_SEPARATE_COMPILATION 1
#endif

#include <type_traits>

// boost/process/v2/environment.hpp in Boost 1.81 names remove_pointer and is_constructible
// unqualified inside boost::process::v2. They resolve only because Boost headers it happens to
// include first (Boost.Filesystem's) declare boost::remove_pointer and boost::is_constructible;
// with BOOST_PROCESS_USE_STD_FS, or if that chain changes, the header does not compile. Declaring
// the std ones in that namespace makes it compile regardless.
namespace boost::process::v2 {
using std::is_constructible;
using std::remove_pointer;
} // namespace boost::process::v2

#include <boost/process/v2/environment.hpp>
#include <boost/process/v2/posix/default_launcher.hpp>
#include <boost/process/v2/process.hpp>
#include <boost/process/v2/stdio.hpp>
