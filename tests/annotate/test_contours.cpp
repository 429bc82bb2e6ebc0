// sam/annotate/contours.h: border following against OpenCV's findContours
// (RETR_EXTERNAL, CHAIN_APPROX_SIMPLE) and Ultralytics' merged polygon, on the
// masks tests/annotate/make_contour_cases.py writes (ctest contours_match_opencv),
// plus the argument checks.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "sam/annotate/boxes.h"
#include "sam/annotate/contours.h"
#include "sam/annotate/labels.h"

namespace {

using sam::annotate::Contour;

struct ContourCase {
  std::string name;
  int height = 0, width = 0;
  std::vector<uint8_t> mask;  // [height, width] 0/1
  std::vector<Contour> contours;
  bool has_merged = false;
  Contour merged;
};

Contour read_points(std::istringstream& in, int n) {
  Contour c(static_cast<size_t>(n));
  for (auto& p : c) in >> p[0] >> p[1];
  return c;
}

std::vector<ContourCase> read_cases(const std::string& path) {
  std::ifstream f(path);
  if (!f) throw std::runtime_error("cannot open " + path);
  std::vector<ContourCase> cases;
  std::string line;
  while (std::getline(f, line)) {
    if (line.empty()) continue;
    std::istringstream head(line);
    std::string tag;
    ContourCase c;
    head >> tag >> c.name >> c.height >> c.width;
    if (tag != "case") throw std::runtime_error("bad case line: " + line);
    for (int y = 0; y < c.height; ++y) {
      std::getline(f, line);
      for (int x = 0; x < c.width; ++x) c.mask.push_back(line.at(static_cast<size_t>(x)) == '1' ? 1 : 0);
    }
    std::getline(f, line);
    std::istringstream count(line);
    int k = 0;
    count >> tag >> k;
    for (int i = 0; i < k; ++i) {
      std::getline(f, line);
      std::istringstream pts(line);
      int n = 0;
      pts >> n;
      c.contours.push_back(read_points(pts, n));
    }
    std::getline(f, line);
    std::istringstream merged(line);
    std::string n;
    merged >> tag >> n;
    if (n != "-") {
      c.has_merged = true;
      std::istringstream rest(line);
      rest >> tag >> n;
      c.merged = read_points(rest, std::stoi(n));
    }
    cases.push_back(std::move(c));
  }
  return cases;
}

std::string describe(const std::vector<Contour>& cs) {
  std::ostringstream s;
  for (const Contour& c : cs) {
    s << '[';
    for (const auto& p : c) s << '(' << p[0] << ',' << p[1] << ')';
    s << ']';
  }
  return s.str();
}

}  // namespace

TEST_CASE("external contours equal OpenCV's findContours on random and adversarial masks",
          "[.][contours_reference]") {
  const char* dir = std::getenv("SAM_CONTOUR_CASES");
  REQUIRE(dir != nullptr);
  const std::vector<ContourCase> cases = read_cases(std::string(dir) + "/cases.txt");
  REQUIRE(cases.size() > 100);
  int with_merged = 0;
  for (const ContourCase& c : cases) {
    INFO("case " << c.name << " " << c.height << "x" << c.width);
    // In a wider buffer (row stride > width) with assorted non-zero values.
    const std::ptrdiff_t stride = c.width + 3;
    std::vector<uint8_t> buffer(static_cast<size_t>(c.height) * static_cast<size_t>(stride), 0x5a);
    for (int y = 0; y < c.height; ++y)
      for (int x = 0; x < c.width; ++x) {
        const uint8_t v = c.mask[static_cast<size_t>(y * c.width + x)];
        buffer[static_cast<size_t>(y * stride + x)] = v ? static_cast<uint8_t>(1 + (x * 7 + y * 13) % 255) : 0;
      }
    const std::vector<Contour> got = sam::annotate::external_contours(buffer.data(), c.height, c.width, stride);
    INFO("ours   " << describe(got));
    INFO("opencv " << describe(c.contours));
    CHECK(got == c.contours);
    if (c.has_merged) {
      ++with_merged;
      CHECK(sam::annotate::mask_polygon(buffer.data(), c.height, c.width, stride) == c.merged);
    }
  }
  WARN(cases.size() << " masks compared, " << with_merged << " with Ultralytics' merged polygon");
}

TEST_CASE("external contours: sizes, strides and trivial masks", "[contours]") {
  const uint8_t one = 9;
  CHECK(sam::annotate::external_contours(&one, 1, 1, 1) == std::vector<Contour>{Contour{{0, 0}}});
  CHECK(sam::annotate::external_contours(nullptr, 0, 5, 5).empty());
  CHECK(sam::annotate::external_contours(nullptr, 5, 0, 0).empty());
  const std::vector<uint8_t> zeros(12, 0);
  CHECK(sam::annotate::external_contours(zeros.data(), 3, 4, 4).empty());
  CHECK(sam::annotate::mask_polygon(zeros.data(), 3, 4, 4).empty());
  CHECK_THROWS_AS(sam::annotate::external_contours(zeros.data(), -1, 4, 4), std::invalid_argument);
  CHECK_THROWS_AS(sam::annotate::external_contours(zeros.data(), 3, 4, 3), std::invalid_argument);
  CHECK(sam::annotate::merge_contours({}).empty());
  const Contour square{{0, 0}, {0, 2}, {2, 2}, {2, 0}};
  CHECK(sam::annotate::merge_contours({square}) == square);
}

TEST_CASE("label coordinates print as Python prints them", "[.][contours_reference]") {
  const char* dir = std::getenv("SAM_CONTOUR_CASES");
  REQUIRE(dir != nullptr);
  std::ifstream f(std::string(dir) + "/floats.txt");
  REQUIRE(f);
  std::string a, b, want;
  int n = 0;
  while (f >> a >> b >> want) {
    double v = 0;
    if (a == "double") {
      v = std::strtod(b.c_str(), nullptr);  // hex float: exact
    } else {
      v = static_cast<double>(static_cast<float>(std::stoi(a)) / static_cast<float>(std::stoi(b)));
    }
    INFO(a << " " << b);
    CHECK(sam::annotate::python_float(v) == want);
    ++n;
  }
  CHECK(n > 1000);
}

TEST_CASE("YOLO label lines and boxes: parsing and range checks", "[contours]") {
  using sam::annotate::parse_yolo_line;
  CHECK_FALSE(parse_yolo_line("   ", "l.txt:1").has_value());
  const auto b = parse_yolo_line("3 0.5 0.5 0.2 0.4 0.9", "l.txt:2");
  REQUIRE(b.has_value());
  CHECK(b->class_id == 3);
  CHECK(b->has_score);
  const auto px = sam::annotate::box_in_pixels(*b, 100, 50);
  CHECK(px[0] == Approx(40.f));
  CHECK(px[3] == Approx(35.f));
  CHECK_THROWS_WITH(parse_yolo_line("1 0.5 x 0.2 0.2", "l.txt:7"), Catch::Contains("l.txt:7"));
  CHECK_THROWS_WITH(parse_yolo_line("1 0.5 0.5 0.2", "l.txt:8"), Catch::Contains("l.txt:8"));
  CHECK_THROWS_WITH(parse_yolo_line("1 0.1 0.1 0.1 0.1 0.1 0.2 0.2", "l.txt:9"), Catch::Contains("segmentation"));
  CHECK_THROWS_WITH(parse_yolo_line("-1 0.5 0.5 0.2 0.2", "l.txt:3"), Catch::Contains("class"));
  const auto out = parse_yolo_line("0 1.5 0.5 0.2 0.2", "l.txt:4");
  CHECK_THROWS_WITH(sam::annotate::box_in_pixels(*out, 100, 100), Catch::Contains("outside"));
  const auto empty = parse_yolo_line("0 0.5 0.5 0 0.2", "l.txt:5");
  CHECK_THROWS_WITH(sam::annotate::box_in_pixels(*empty, 100, 100), Catch::Contains("empty"));
}

TEST_CASE("polygon simplification keeps the first point and drops near-collinear ones", "[contours]") {
  const Contour square{{0, 0}, {0, 5}, {0, 10}, {5, 10}, {10, 10}, {10, 5}, {10, 0}, {5, 0}};
  const Contour s = sam::annotate::simplify_closed(square, 0.5);
  CHECK(s == Contour{{0, 0}, {0, 10}, {10, 10}, {10, 0}});
  CHECK(sam::annotate::simplify_closed(square, 0) == square);
}
