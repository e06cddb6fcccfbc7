# Sourced by the sanitizer scripts: sanitizer_compiler FLAGS sets the array COMPILER to the CMake
# argument that picks a compiler able to link `-fsanitize=FLAGS` programs: clang when it can
# (Debian: clang + libclang-rt-14-dev), else the default compiler (g++ with libasan / libubsan /
# libtsan). Returns 1 when neither can.
sanitizer_compiler() {
  local flags="$1" probe rc=0
  COMPILER=()
  probe="$(mktemp -d)"
  if command -v clang++ >/dev/null &&
     echo 'int main() { return 0; }' | clang++ -x c++ -fsanitize="$flags" - -o "$probe/a" 2>/dev/null; then
    COMPILER=(-DCMAKE_CXX_COMPILER=clang++)
  elif ! echo 'int main() { return 0; }' | c++ -x c++ -fsanitize="$flags" - -o "$probe/a" 2>/dev/null; then
    rc=1
  fi
  rm -rf "$probe"
  return "$rc"
}
