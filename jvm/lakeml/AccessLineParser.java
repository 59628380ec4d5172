package lakeml;

import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.api.java.UDF1;

/**
 * The fast path of ingest_logs for access-log lines: the table's typed columns of one line, or null.
 *
 * <p>It takes only lines it can fully validate: printable ASCII, no vhost prefix, a well-formed
 * time, a three-digit status in 100-599, digits or '-' for bytes, and either nothing or a quoted
 * referrer and user agent (plus trailing fields) after the bytes. Every other line, valid or not,
 * comes back null and goes through ingest_logs' regex path, which owns the rules (and the reject
 * reasons). For every line it takes, the columns equal that path's, column for column (the property
 * test tests/spark/test_access_line_parser.py checks this).
 *
 * <p>Fields, in order: client, user, method, url, path, query, protocol, status, bytes, referrer,
 * user_agent, is_bot, extra, event_micros (UTC, microseconds since the epoch).
 */
public final class AccessLineParser implements UDF1<String, Row> {
  private static final long serialVersionUID = 1L;
  private static final String MONTHS = "JanFebMarAprMayJunJulAugSepOctNovDec";
  // Kept equal to BOT_HINTS and BOT_PATTERN in jobs/ingest_logs.py (a test compares them).
  public static final String[] BOT_HINTS = {"bot", "crawl", "spider", "slurp", "facebookexternalhit",
      "ia_archiver", "mediapartners", "feedfetcher", "bingpreview", "yandex", "archive.org", "petalsearch"};
  public static final String BOT_PATTERN = "(?i)bot\\b|bot/|crawl|spider|slurp|facebookexternalhit|ia_archiver|"
      + "mediapartners-google|feedfetcher|bingpreview|yandex(?:images|metrika)|archive\\.org|petalsearch";
  public static final String ABSOLUTE_URL_HEAD = "^[A-Za-z][A-Za-z0-9+.-]*://[^/]*";
  private static final Pattern BOT = Pattern.compile(BOT_PATTERN);
  private static final Pattern URL_HEAD = Pattern.compile(ABSOLUTE_URL_HEAD);
  private static final int MAX_OFFSET_MINUTES = 18 * 60;
  private static final long NO_TIME = Long.MIN_VALUE;

  @Override
  public Row call(String line) {
    Fields f = scan(line);
    if (f == null) return null;
    String user = line.substring(f.identEnd + 1, f.userEnd);
    String request = line.substring(f.userEnd + 31, f.requestEnd);
    String[] parts = request.split(" ", -1);
    boolean requestOk = parts.length == 2 || parts.length == 3;
    String url = requestOk ? parts[1] : (request.isEmpty() || request.equals("-") ? null : request);
    boolean noBytes = f.bytesEnd == f.statusEnd + 2 && line.charAt(f.statusEnd + 1) == '-';
    String userAgent = f.agentFrom < 0 ? null : dashToNull(line.substring(f.agentFrom, f.agentEnd));
    return RowFactory.create(
        line.substring(0, f.clientEnd),
        user.equals("-") ? null : user,
        requestOk ? parts[0] : null,
        url,
        path(url),
        url != null && url.indexOf('?') >= 0 ? queryMap(url.substring(url.indexOf('?') + 1)) : null,
        parts.length == 3 ? parts[2] : null,
        f.status,
        noBytes ? null : Long.valueOf(line.substring(f.statusEnd + 1, f.bytesEnd)),
        f.referrerFrom < 0 ? null : dashToNull(line.substring(f.referrerFrom, f.referrerEnd)),
        userAgent,
        userAgent != null && isBot(userAgent),
        extra(line, f.extra, f.extraCount),
        f.micros);
  }

  /** Where the fields of a line the fast path takes are (end indexes are exclusive). */
  static final class Fields {
    int clientEnd;
    int identEnd;
    int userEnd;
    int requestEnd;
    int statusEnd;
    int bytesEnd;
    int status;
    long micros;
    int referrerFrom = -1;
    int referrerEnd;
    int agentFrom = -1;
    int agentEnd;
    int[] extra; // from, end of each trailing field
    int extraCount;
  }

  /** The fields of a line the fast path takes, or null for every line it leaves to the regex path. */
  static Fields scan(String line) {
    if (line == null || !printableAscii(line)) return null;
    Fields f = new Fields();
    f.clientEnd = line.indexOf(' ');
    if (f.clientEnd <= 0) return null;
    f.identEnd = line.indexOf(' ', f.clientEnd + 1);
    if (f.identEnd <= f.clientEnd + 1) return null;
    f.userEnd = line.indexOf(' ', f.identEnd + 1);
    if (f.userEnd <= f.identEnd + 1) return null;
    int at = f.userEnd + 1;
    f.micros = eventMicros(line, at);
    if (f.micros == NO_TIME) return null;
    f.requestEnd = quotedEnd(line, at + 29);
    if (f.requestEnd < 0 || f.requestEnd + 1 >= line.length() || line.charAt(f.requestEnd + 1) != ' ') return null;
    int statusAt = f.requestEnd + 2;
    f.statusEnd = tokenEnd(line, statusAt);
    if (f.statusEnd != statusAt + 3 || f.statusEnd >= line.length()) return null;
    f.status = number(line, statusAt, 3);
    if (f.status < 100 || f.status > 599) return null;
    f.bytesEnd = tokenEnd(line, f.statusEnd + 1);
    int bytesLength = f.bytesEnd - f.statusEnd - 1;
    boolean dash = bytesLength == 1 && line.charAt(f.statusEnd + 1) == '-';
    if (bytesLength < 1 || (!dash && !digits(line, f.statusEnd + 1, f.bytesEnd, 18))) return null;
    return tail(line, f) ? f : null;
  }

  /** What follows the bytes: nothing or spaces, or ` "referrer" "agent"` then ` field`s; false if neither. */
  private static boolean tail(String line, Fields f) {
    int from = f.bytesEnd;
    int n = line.length();
    if (onlySpaces(line, from)) return true;
    if (!line.startsWith(" \"", from)) return false;
    int referrerEnd = quotedEnd(line, from + 1);
    if (referrerEnd < 0 || !line.startsWith(" \"", referrerEnd + 1)) return false;
    int agentEnd = quotedEnd(line, referrerEnd + 2);
    if (agentEnd < 0) return false;
    f.referrerFrom = from + 2;
    f.referrerEnd = referrerEnd;
    f.agentFrom = referrerEnd + 3;
    f.agentEnd = agentEnd;
    int i = agentEnd + 1;
    while (i < n && !onlySpaces(line, i)) {
      if (line.charAt(i) != ' ' || i + 1 >= n) return false;
      if (line.charAt(i + 1) == '"') {
        int end = quotedEnd(line, i + 1);
        if (end < 0) return false;
        addExtra(f, i + 2, end);
        i = end + 1;
      } else {
        int end = i + 1;
        while (end < n && line.charAt(end) != ' ' && line.charAt(end) != '"') end++;
        if (end == i + 1 || (end < n && line.charAt(end) == '"')) return false;
        addExtra(f, i + 1, end);
        i = end;
      }
    }
    return true;
  }

  private static void addExtra(Fields f, int from, int end) {
    if (f.extra == null) {
      f.extra = new int[8];
    } else if (f.extraCount * 2 == f.extra.length) {
      f.extra = java.util.Arrays.copyOf(f.extra, f.extra.length * 2);
    }
    f.extra[f.extraCount * 2] = from;
    f.extra[f.extraCount * 2 + 1] = end;
    f.extraCount++;
  }

  private static String[] extra(String line, int[] bounds, int count) {
    if (count == 0) return null;
    String[] fields = new String[count];
    for (int k = 0; k < count; k++) fields[k] = line.substring(bounds[2 * k], bounds[2 * k + 1]);
    return fields;
  }

  /**
   * UTC microseconds of `[dd/Mon/yyyy:HH:mm:ss +zzzz] "` at `at`; NO_TIME unless every part is a real
   * time (days of the month, years 1583-9999 of the Gregorian calendar, offsets up to +-18:00).
   */
  static long eventMicros(String s, int at) {
    if (at + 30 > s.length() || s.charAt(at) != '[' || s.charAt(at + 27) != ']' || !s.startsWith(" \"", at + 28)) {
      return NO_TIME;
    }
    if (s.charAt(at + 3) != '/' || s.charAt(at + 7) != '/' || s.charAt(at + 12) != ':' || s.charAt(at + 15) != ':'
        || s.charAt(at + 18) != ':' || s.charAt(at + 21) != ' ') {
      return NO_TIME;
    }
    int month = month(s, at + 4);
    char sign = s.charAt(at + 22);
    int day = number(s, at + 1, 2), year = number(s, at + 8, 4), hour = number(s, at + 13, 2);
    int minute = number(s, at + 16, 2), second = number(s, at + 19, 2);
    int offsetHours = number(s, at + 23, 2), offsetMinutes = number(s, at + 25, 2);
    if (month < 1 || (sign != '+' && sign != '-') || year < 1583 || hour < 0 || hour > 23
        || minute < 0 || minute > 59 || second < 0 || second > 59 || offsetHours < 0 || offsetMinutes < 0
        || offsetMinutes > 59) {
      return NO_TIME;
    }
    int offset = offsetHours * 60 + offsetMinutes;
    if (day < 1 || day > daysInMonth(year, month) || offset > MAX_OFFSET_MINUTES) return NO_TIME;
    long east = sign == '-' ? -offset : offset;
    long seconds = daysFromCivil(year, month, day) * 86400L + hour * 3600L + minute * 60L + second - east * 60L;
    return seconds * 1_000_000L;
  }

  /** 1-12 for the English month abbreviation at `at` (case as logged: `Jan`), or -1. */
  private static int month(String s, int at) {
    for (int m = 0; m < 12; m++) {
      if (s.regionMatches(at, MONTHS, m * 3, 3)) return m + 1;
    }
    return -1;
  }

  /** Index of the quote closing the quoted field that opens at `from` (backslash escapes a character), or -1. */
  static int quotedEnd(String s, int from) {
    if (from >= s.length() || s.charAt(from) != '"') return -1;
    for (int i = from + 1; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c == '\\') {
        i++;
      } else if (c == '"') {
        return i;
      }
    }
    return -1;
  }

  private static String path(String url) {
    if (url == null) return null;
    int query = url.indexOf('?');
    String path = query < 0 ? url : url.substring(0, query);
    return url.contains("://") ? URL_HEAD.matcher(path).replaceFirst("") : path;
  }

  /** `a=1&b=2` -> {a: 1, b: 2} in order; empty pairs skipped; a repeated key keeps its first value. */
  static Map<String, String> queryMap(String query) {
    Map<String, String> map = new LinkedHashMap<>();
    int start = 0;
    while (start <= query.length()) {
      int end = query.indexOf('&', start);
      if (end < 0) end = query.length();
      if (end > start) {
        int eq = query.indexOf('=', start);
        boolean hasValue = eq >= 0 && eq < end;
        map.putIfAbsent(query.substring(start, hasValue ? eq : end), hasValue ? query.substring(eq + 1, end) : "");
      }
      start = end + 1;
    }
    return map;
  }

  static boolean isBot(String agent) {
    String lower = agent.toLowerCase(Locale.ROOT);
    for (String hint : BOT_HINTS) {
      if (lower.contains(hint)) return BOT.matcher(agent).find();
    }
    return false;
  }

  private static String dashToNull(String s) {
    return s.isEmpty() || s.equals("-") ? null : s;
  }

  private static boolean printableAscii(String s) {
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c < 0x20 || c > 0x7e) return false;
    }
    return true;
  }

  private static boolean onlySpaces(String s, int from) {
    for (int i = from; i < s.length(); i++) {
      if (s.charAt(i) != ' ') return false;
    }
    return true;
  }

  private static int tokenEnd(String s, int from) {
    int i = from;
    while (i < s.length() && s.charAt(i) != ' ') i++;
    return i;
  }

  /** True when s[from, end) is 1 to maxLength decimal digits. */
  private static boolean digits(String s, int from, int end, int maxLength) {
    if (end <= from || end - from > maxLength) return false;
    for (int i = from; i < end; i++) {
      if (s.charAt(i) < '0' || s.charAt(i) > '9') return false;
    }
    return true;
  }

  /** The non-negative decimal number of `count` digits at `from`, or -1. */
  private static int number(String s, int from, int count) {
    int value = 0;
    for (int i = from; i < from + count; i++) {
      char c = s.charAt(i);
      if (c < '0' || c > '9') return -1;
      value = value * 10 + (c - '0');
    }
    return value;
  }

  private static int daysInMonth(int year, int month) {
    if (month == 2) return (year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)) ? 29 : 28;
    return (month == 4 || month == 6 || month == 9 || month == 11) ? 30 : 31;
  }

  /** Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
  private static long daysFromCivil(int y, int m, int d) {
    y -= m <= 2 ? 1 : 0;
    long era = (y >= 0 ? y : y - 399) / 400;
    long yoe = y - era * 400;
    long doy = (153L * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
  }
}
