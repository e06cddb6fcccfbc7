// The message of the errseg::Error a callable throws ("" when it throws none): the tests check
// error messages word for word.
#pragma once
#include <functional>
#include <string>

#include "errseg/core/error.hpp"

inline std::string error_of(const std::function<void()>& fn) {
    try {
        fn();
    } catch (const errseg::Error& e) {
        return e.what();
    }
    return "";
}
