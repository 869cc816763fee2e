#include "chargegrid/scheduler/sessions.hpp"

#include <cmath>
#include <cstdio>
#include <sstream>

namespace chargegrid::scheduler {
namespace {

using namespace std::chrono;

bool read_digits(const std::string& s, std::size_t& pos, int count, int& value) {
  if (pos + count > s.size()) return false;
  value = 0;
  for (int i = 0; i < count; ++i) {
    char c = s[pos + i];
    if (c < '0' || c > '9') return false;
    value = value * 10 + (c - '0');
  }
  pos += count;
  return true;
}

bool expect(const std::string& s, std::size_t& pos, char c) {
  if (pos >= s.size() || s[pos] != c) return false;
  ++pos;
  return true;
}

// "YYYY-MM-DD?HH:MM[:SS]" where ? is 'T' or ' '; leaves pos after the time.
bool parse_local(const std::string& s, std::size_t& pos, local_seconds& out) {
  int y, mo, d, h, mi, sec = 0;
  if (!read_digits(s, pos, 4, y) || !expect(s, pos, '-') || !read_digits(s, pos, 2, mo) ||
      !expect(s, pos, '-') || !read_digits(s, pos, 2, d))
    return false;
  if (pos >= s.size() || (s[pos] != 'T' && s[pos] != ' ')) return false;
  ++pos;
  if (!read_digits(s, pos, 2, h) || !expect(s, pos, ':') || !read_digits(s, pos, 2, mi))
    return false;
  if (pos < s.size() && s[pos] == ':') {
    ++pos;
    if (!read_digits(s, pos, 2, sec)) return false;
    if (pos < s.size() && s[pos] == '.') {  // fractional seconds are dropped
      ++pos;
      std::size_t start = pos;
      while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') ++pos;
      if (pos == start) return false;
    }
  }
  year_month_day ymd{year{y}, month{static_cast<unsigned>(mo)}, day{static_cast<unsigned>(d)}};
  if (!ymd.ok() || h > 23 || mi > 59 || sec > 60) return false;
  out = local_days{ymd} + hours{h} + minutes{mi} + seconds{sec};
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
  std::size_t pos = 0;
  local_seconds local;
  if (!parse_local(text, pos, local)) return false;
  if (pos >= text.size()) return false;  // an offset is required
  if (text[pos] == 'Z' || text[pos] == 'z') {
    offset = minutes{0};
    ++pos;
  } else if (text[pos] == '+' || text[pos] == '-') {
    int sign = text[pos] == '-' ? -1 : 1;
    ++pos;
    int oh, om;
    if (!read_digits(text, pos, 2, oh)) return false;
    if (pos < text.size() && text[pos] == ':') ++pos;
    if (!read_digits(text, pos, 2, om) || oh > 18 || om > 59) return false;
    offset = minutes{sign * (oh * 60 + om)};
  } else {
    return false;
  }
  if (pos != text.size()) return false;
  out = Time{local.time_since_epoch() - offset};
  return true;
}

std::string format_iso8601(Time t, std::chrono::minutes offset) {
  auto local = t + offset;
  auto day = floor<days>(local);
  year_month_day ymd{day};
  hh_mm_ss hms{local - day};
  char buf[96];
  long off = offset.count();
  char sign = off < 0 ? '-' : '+';
  off = off < 0 ? -off : off;
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02ld:%02ld:%02ld%c%02ld:%02ld",
                static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                static_cast<unsigned>(ymd.day()), static_cast<long>(hms.hours().count()),
                static_cast<long>(hms.minutes().count()), static_cast<long>(hms.seconds().count()),
                sign, off / 60, off % 60);
  return buf;
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
        std::size_t pos = 0;
        if (!parse_local(f[3], pos, plugin_local) || pos != f[3].size())
          return "bad plugin_time '" + f[3] + "'";
        if (f[4] == "NA") return "plug-out time missing (NA)";
        pos = 0;
        if (!parse_local(f[4], pos, plugout_local) || pos != f[4].size())
          return "bad plugout_time '" + f[4] + "'";
        if (!parse_kwh(f[6], true, s.energy_wh)) return "bad energy_session '" + f[6] + "'";
        s.utc_offset = oslo_offset_for_local(plugin_local);
        s.plugin = Time{plugin_local.time_since_epoch() - s.utc_offset};
        s.plugout = Time{plugout_local.time_since_epoch() - oslo_offset_for_local(plugout_local)};
        return {};
      });
}

}  // namespace chargegrid::scheduler
