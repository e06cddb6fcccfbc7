// A small command-line parser for the errseg verbs: --name VALUE / --name=VALUE options,
// boolean flags, positionals, and a generated --help text.
#pragma once
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "errseg/core/error.hpp"

namespace errseg::cli {

class Args {
public:
    Args(std::string verb, std::string summary, std::string usage)
        : verb_(std::move(verb)), summary_(std::move(summary)), usage_(std::move(usage)) {}

    Args& option(const std::string& name, const std::string& help, const std::string& def = "") {
        specs_.push_back({name, help, def, true});
        if (!def.empty()) values_[name] = def;
        return *this;
    }
    Args& flag(const std::string& name, const std::string& help) {
        specs_.push_back({name, help, "", false});
        return *this;
    }

    // Returns false when --help was printed (the caller exits 0).
    bool parse(int argc, char** argv) {
        for (int i = 0; i < argc; ++i) {
            std::string a = argv[i];
            if (a == "--help" || a == "-h") {
                print_help(std::cout);
                return false;
            }
            if (a.size() > 2 && a.compare(0, 2, "--") == 0) {
                std::string name = a.substr(2), value;
                bool has_value = false;
                if (auto eq = name.find('='); eq != std::string::npos) {
                    value = name.substr(eq + 1);
                    name = name.substr(0, eq);
                    has_value = true;
                }
                const Spec* s = find(name);
                ERRSEG_CHECK(s, "unknown option --", name, " for 'errseg ", verb_, "' (see --help)");
                if (s->takes_value) {
                    if (!has_value) {
                        ERRSEG_CHECK(i + 1 < argc, "option --", name, " needs a value");
                        value = argv[++i];
                    }
                    values_[name] = value;
                } else {
                    ERRSEG_CHECK(!has_value, "flag --", name, " takes no value");
                    flags_.insert(name);
                }
            } else if (a == "-o") {
                ERRSEG_CHECK(i + 1 < argc && find("out-dir"), "-o needs a directory");
                values_["out-dir"] = argv[++i];
            } else {
                positionals_.push_back(a);
            }
        }
        return true;
    }

    bool has(const std::string& name) const { return values_.count(name) != 0; }
    bool flag_set(const std::string& name) const { return flags_.count(name) != 0; }
    std::string get(const std::string& name) const {
        auto it = values_.find(name);
        ERRSEG_CHECK(it != values_.end(), "missing required option --", name, " (see errseg ", verb_, " --help)");
        return it->second;
    }
    std::string get_or(const std::string& name, const std::string& def) const {
        auto it = values_.find(name);
        return it == values_.end() ? def : it->second;
    }
    // An integer option within [lo, hi]; the error says which of "not a number", "too large
    // for any integer" or "out of range" it is, with the text as given.
    long get_int(const std::string& name, long lo, long hi) const {
        const std::string v = get(name);
        char* end = nullptr;
        errno = 0;
        const long x = std::strtol(v.c_str(), &end, 10);
        const bool digits = !v.empty() && v.find_first_not_of("+-0123456789") == std::string::npos &&
                            v.find_first_of("0123456789") != std::string::npos;
        ERRSEG_CHECK(digits && end && *end == '\0', "--", name, " expects an integer, got '", v, "'");
        ERRSEG_CHECK(errno != ERANGE, "--", name, " value '", v, "' overflows: it must be in [", lo, ", ", hi, "]");
        ERRSEG_CHECK(x >= lo && x <= hi, "--", name, " must be in [", lo, ", ", hi, "], got ", x);
        return x;
    }
    const std::vector<std::string>& positionals() const { return positionals_; }

    void print_help(std::ostream& os) const {
        os << "usage: errseg " << verb_ << " " << usage_ << "\n\n" << summary_ << "\n\noptions:\n";
        for (const Spec& s : specs_) {
            std::string left = "  --" + s.name + (s.takes_value ? " VALUE" : "");
            os << left << std::string(left.size() < 26 ? 26 - left.size() : 1, ' ') << s.help;
            if (!s.def.empty()) os << " (default: " << s.def << ")";
            os << "\n";
        }
        os << "  --help                  show this help\n";
    }

private:
    struct Spec {
        std::string name, help, def;
        bool takes_value;
    };
    const Spec* find(const std::string& name) const {
        for (const Spec& s : specs_)
            if (s.name == name) return &s;
        return nullptr;
    }
    std::string verb_, summary_, usage_;
    std::vector<Spec> specs_;
    std::map<std::string, std::string> values_;
    std::set<std::string> flags_;
    std::vector<std::string> positionals_;
};

// Progress bar on stderr for multi-item runs (only when stderr is a terminal or forced): items
// done, items per second and the estimated time left.
class Progress {
public:
    Progress(size_t total, bool enabled)
        : total_(total), enabled_(enabled && total > 1), start_(std::chrono::steady_clock::now()) {}
    void step(const std::string& label) {
        ++done_;
        if (!enabled_) return;
        const int width = 30;
        int filled = int(double(done_) / double(total_) * width);
        const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
        const double rate = s > 0 ? double(done_) / s : 0;
        char stats[64];
        std::snprintf(stats, sizeof stats, "%.2f/s ETA %s", rate,
                      rate > 0 ? clock_text(double(total_ - done_) / rate).c_str() : "?");
        std::cerr << "\r[" << std::string(size_t(filled), '#') << std::string(size_t(width - filled), '.') << "] "
                  << done_ << "/" << total_ << " " << stats << " " << label.substr(0, 40) << "\x1b[K" << std::flush;
        if (done_ == total_) std::cerr << "\n";
    }

    // 75 -> "1:15", 3725 -> "1:02:05".
    static std::string clock_text(double seconds) {
        const long t = long(seconds + 0.5), h = t / 3600, m = t / 60 % 60, sec = t % 60;
        char buf[32];
        if (h > 0) std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", h, m, sec);
        else std::snprintf(buf, sizeof buf, "%ld:%02ld", m, sec);
        return buf;
    }

private:
    size_t total_, done_ = 0;
    bool enabled_;
    std::chrono::steady_clock::time_point start_;
};

}  // namespace errseg::cli
