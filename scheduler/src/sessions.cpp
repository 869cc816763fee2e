#include "chargegrid/scheduler/sessions.hpp"

#include <cmath>
#include <sstream>

#include "chargegrid/base/time.hpp"

namespace chargegrid::scheduler {
namespace {

using namespace std::chrono;

// The CSV files' times: RFC 3339, with a space for the 'T', the seconds optional (their
// fraction dropped) and the offset with or without its colon, up to ISO 8601's ±18:00.
constexpr base::Rfc3339Options kCsvTime{.space_separator = true,
                                        .optional_seconds = true,
                                        .compact_offset = true,
                                        .max_offset_hours = 18};

// "YYYY-MM-DD?HH:MM[:SS]" without an offset: a local time.
bool parse_local(const std::string& s, local_seconds& out) {
  const auto t = base::parse_rfc3339(s + "Z", kCsvTime);
  if (!t) return false;
  out = local_seconds{floor<seconds>(*t).time_since_epoch()};
  return true;
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\r' || s.back() == ' ' || s.back() == '\t')) s.pop_back();
  std::size_t i = 0;
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
  s.erase(0, i);
  if (s.size() >= 2 && s.front() == '"' && s.back() == '"') s = s.substr(1, s.size() - 2);
  return s;
}

std::vector<std::string> split(const std::string& line, char sep) {
  std::vector<std::string> out;
  std::string field;
  std::istringstream in(line);
  while (std::getline(in, field, sep)) out.push_back(trim(field));
  if (!line.empty() && line.back() == sep) out.emplace_back();
  return out;
}

// Strict decimal number ("12.5" or "12,5" with decimal_comma); no exponent, no garbage.
bool parse_kwh(std::string text, bool decimal_comma, std::int64_t& wh) {
  if (decimal_comma) {
    for (char& c : text)
      if (c == ',') c = '.';
  }
  if (text.empty()) return false;
  std::size_t i = 0, digits = 0;
  bool dot = false;
  for (; i < text.size(); ++i) {
    char c = text[i];
    if (c >= '0' && c <= '9') {
      ++digits;
    } else if (c == '.' && !dot) {
      dot = true;
    } else {
      return false;
    }
  }
  if (digits == 0) return false;
  double kwh = std::strtod(text.c_str(), nullptr);
  if (!std::isfinite(kwh) || kwh > 1e6) return false;
  wh = std::llround(kwh * 1000.0);
  return true;
}

sys_days last_sunday(int y, unsigned m) {
  sys_days last = sys_days{year{y} / month{m} / std::chrono::last};
  return last - (weekday{last} - Sunday);
}

void check_and_add(SessionFile& file, FinishedSession s, std::size_t line_no) {
  if (s.user_id.empty()) {
    file.rejected.push_back("line " + std::to_string(line_no) + ": empty user_id");
  } else if (s.plugout < s.plugin) {
    file.rejected.push_back("line " + std::to_string(line_no) + ": plug-out before plug-in");
  } else {
    file.sessions.push_back(std::move(s));
  }
}

// Reads a delimited file: checks the header, then turns each row into a session or a numbered
// rejection (a row with the wrong field count, a parse error, or a failed check).
template <class HeaderOk, class ParseRow>
SessionFile read_rows(std::istream& in, char sep, const std::string& header_error,
                      HeaderOk header_ok, std::size_t fields, ParseRow parse_row) {
  SessionFile file;
  std::string line;
  std::size_t line_no = 0;
  bool header_seen = false;
  while (std::getline(in, line)) {
    ++line_no;
    if (trim(line).empty()) continue;
    auto f = split(line, sep);
    if (!header_seen) {
      header_seen = true;
      if (header_ok(f)) continue;
      file.rejected.push_back("line 1: " + header_error);
      return file;
    }
    std::string problem;
    FinishedSession s;
    if (f.size() != fields)
      problem = "expected " + std::to_string(fields) + " fields, got " + std::to_string(f.size());
    else
      problem = parse_row(f, s);
    if (!problem.empty()) {
      file.rejected.push_back("line " + std::to_string(line_no) + ": " + problem);
      continue;
    }
    check_and_add(file, std::move(s), line_no);
  }
  if (!header_seen) file.rejected.push_back("empty file: no header");
  return file;
}

}  // namespace

bool parse_iso8601(const std::string& text, Time& out, std::chrono::minutes& offset) {
  const auto parsed = base::parse_rfc3339_with_offset(text, kCsvTime);
  if (!parsed) return false;
  out = floor<seconds>(parsed->utc);
  offset = parsed->offset;
  return true;
}

std::string format_iso8601(Time t, std::chrono::minutes offset) {
  return base::format_rfc3339(t, base::TimePrecision::kSeconds, offset);
}

std::chrono::minutes oslo_offset_for_local(local_seconds local) {
  // EU rule: summer time from 01:00 UTC on the last Sunday of March to 01:00 UTC on the last
  // Sunday of October. Try the summer reading first so the repeated hour reads as summer time.
  int y = static_cast<int>(year_month_day{floor<days>(local)}.year());
  sys_seconds start = last_sunday(y, 3) + hours{1};
  sys_seconds end = last_sunday(y, 10) + hours{1};
  sys_seconds as_summer{local.time_since_epoch() - hours{2}};
  if (as_summer >= start && as_summer < end) return minutes{120};
  return minutes{60};
}

SessionFile read_generic_csv(std::istream& in) {
  return read_rows(
      in, ',', "expected header user_id,site_id,plugin_time,plugout_time,energy_kwh",
      [](const std::vector<std::string>& f) {
        return f.size() == 5 && f[0] == "user_id" && f[1] == "site_id" && f[2] == "plugin_time" &&
               f[3] == "plugout_time" && f[4] == "energy_kwh";
      },
      5,
      [](const std::vector<std::string>& f, FinishedSession& s) -> std::string {
        s.user_id = f[0];
        s.site_id = f[1];
        minutes plugout_offset;
        if (!parse_iso8601(f[2], s.plugin, s.utc_offset)) return "bad plugin_time '" + f[2] + "'";
        if (!parse_iso8601(f[3], s.plugout, plugout_offset))
          return "bad plugout_time '" + f[3] + "'";
        if (!parse_kwh(f[4], false, s.energy_wh)) return "bad energy_kwh '" + f[4] + "'";
        return {};
      });
}

SessionFile read_norway_csv(std::istream& in) {
  return read_rows(
      in, ';', "not the Norway residential header",
      [](const std::vector<std::string>& f) {
        return f.size() == 7 && f[0] == "location" && f[1] == "user_id" && f[3] == "plugin_time" &&
               f[4] == "plugout_time" && f[6] == "energy_session";
      },
      7,
      [](const std::vector<std::string>& f, FinishedSession& s) -> std::string {
        s.site_id = f[0];
        s.user_id = f[1];
        local_seconds plugin_local, plugout_local;
        if (!parse_local(f[3], plugin_local)) return "bad plugin_time '" + f[3] + "'";
        if (f[4] == "NA") return "plug-out time missing (NA)";
        if (!parse_local(f[4], plugout_local)) return "bad plugout_time '" + f[4] + "'";
        if (!parse_kwh(f[6], true, s.energy_wh)) return "bad energy_session '" + f[6] + "'";
        s.utc_offset = oslo_offset_for_local(plugin_local);
        s.plugin = Time{plugin_local.time_since_epoch() - s.utc_offset};
        s.plugout = Time{plugout_local.time_since_epoch() - oslo_offset_for_local(plugout_local)};
        return {};
      });
}

}  // namespace chargegrid::scheduler
