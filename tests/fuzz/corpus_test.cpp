// Every seed of the fuzz corpus and every input that once broke a property, fed to its
// target in the ordinary (and the sanitizer) build: a regression aborts the test.

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "targets.hpp"

namespace fs = std::filesystem;

namespace {

using Target = int (*)(const std::uint8_t*, std::size_t);

std::vector<fs::path> inputs(const fs::path& folder) {
  std::vector<fs::path> files;
  if (!fs::is_directory(folder)) return files;
  for (const auto& entry : fs::directory_iterator(folder))
    if (entry.is_regular_file() && entry.path().filename().string().front() != '.')
      files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  return files;
}

std::size_t feed(const fs::path& folder, Target target) {
  const auto files = inputs(folder);
  for (const auto& file : files) {
    INFO("input: " << file.string());
    std::ifstream in(file, std::ios::binary);
    const std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                                          std::istreambuf_iterator<char>());
    CHECK(target(bytes.data(), bytes.size()) == 0);
  }
  return files.size();
}

void check_target(const std::string& name, Target target) {
  CHECK(feed(fs::path("corpus") / name, target) > 0);
  feed(fs::path("regressions") / name, target);
}

}  // namespace

TEST_CASE("the rpc fuzz target holds on its seeds and past crashes", "[fuzz]") {
  check_target("rpc", chargegrid::fuzz::rpc);
}

TEST_CASE("the validate fuzz target holds on its seeds and past crashes", "[fuzz]") {
  check_target("validate", chargegrid::fuzz::validate);
}

TEST_CASE("the http fuzz target holds on its seeds and past crashes", "[fuzz]") {
  check_target("http", chargegrid::fuzz::http);
}

TEST_CASE("the pki fuzz target holds on its seeds and past crashes", "[fuzz]") {
  check_target("pki", chargegrid::fuzz::pki);
}

TEST_CASE("the tls fuzz target holds on its seeds and past crashes", "[fuzz]") {
  check_target("tls", chargegrid::fuzz::tls);
}
