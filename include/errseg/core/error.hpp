// Error reporting: every failure the library can detect becomes an errseg::Error
// carrying a message that names the problem (file, tensor, shape...).
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace errseg {

class Error : public std::runtime_error {
public:
    explicit Error(const std::string& what) : std::runtime_error(what) {}
};

namespace detail {
inline void append(std::ostringstream&) {}
template <class T, class... Rest>
void append(std::ostringstream& os, const T& v, const Rest&... rest) {
    os << v;
    append(os, rest...);
}
}  // namespace detail

// Builds a message from any streamable pieces: fail("tensor ", name, " has ", n, " dims").
template <class... Args>
[[noreturn]] void fail(const Args&... args) {
    std::ostringstream os;
    detail::append(os, args...);
    throw Error(os.str());
}

}  // namespace errseg

// Cheap precondition check that stays on in release builds: inputs come from files and users.
#define ERRSEG_CHECK(cond, ...)                       \
    do {                                              \
        if (!(cond)) ::errseg::fail(__VA_ARGS__);     \
    } while (0)
