package lakeml;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
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

  @Override
  public Row call(String line) {
    if (line == null || !printableAscii(line)) return null;
    int clientEnd = line.indexOf(' ');
    if (clientEnd <= 0) return null;
    int identEnd = line.indexOf(' ', clientEnd + 1);
    if (identEnd <= clientEnd + 1) return null;
    int userEnd = line.indexOf(' ', identEnd + 1);
    if (userEnd <= identEnd + 1) return null;
    int at = userEnd + 1;
    Long micros = eventMicros(line, at);
    if (micros == null) return null;
    int requestEnd = quotedEnd(line, at + 29);
    if (requestEnd < 0 || requestEnd + 1 >= line.length() || line.charAt(requestEnd + 1) != ' ') return null;
    int statusAt = requestEnd + 2;
    int statusEnd = tokenEnd(line, statusAt);
    if (statusEnd != statusAt + 3 || statusEnd >= line.length()) return null;
    Integer status = status(line, statusAt);
    int bytesEnd = tokenEnd(line, statusEnd + 1);
    if (status == null || bytesEnd == statusEnd + 1) return null;
    String bytesText = line.substring(statusEnd + 1, bytesEnd);
    if (!bytesText.equals("-") && !digits(bytesText, 18)) return null;
    Tail tail = tail(line, bytesEnd);
    if (tail == null) return null;

    String user = line.substring(identEnd + 1, userEnd);
    String request = line.substring(at + 30, requestEnd);
    String[] parts = request.split(" ", -1);
    boolean requestOk = parts.length == 2 || parts.length == 3;
    String url = requestOk ? parts[1] : (request.isEmpty() || request.equals("-") ? null : request);
    String userAgent = dashToNull(tail.userAgent);
    return RowFactory.create(
        line.substring(0, clientEnd),
        user.equals("-") ? null : user,
        requestOk ? parts[0] : null,
        url,
        path(url),
        url != null && url.indexOf('?') >= 0 ? queryMap(url.substring(url.indexOf('?') + 1)) : null,
        parts.length == 3 ? parts[2] : null,
        status,
        bytesText.equals("-") ? null : Long.valueOf(bytesText),
        dashToNull(tail.referrer),
        userAgent,
        userAgent != null && isBot(userAgent),
        tail.extra,
        micros);
  }

  /** The referrer, user agent and trailing fields after the bytes (all null when there are none). */
  private static final class Tail {
    String referrer;
    String userAgent;
    String[] extra;
  }

  /** What follows the bytes: nothing or spaces, or ` "referrer" "agent"` then ` field`s; null if neither. */
  private static Tail tail(String line, int from) {
    Tail tail = new Tail();
    int n = line.length();
    if (onlySpaces(line, from)) return tail;
    if (!line.startsWith(" \"", from)) return null;
    int referrerEnd = quotedEnd(line, from + 1);
    if (referrerEnd < 0 || !line.startsWith(" \"", referrerEnd + 1)) return null;
    int agentEnd = quotedEnd(line, referrerEnd + 2);
    if (agentEnd < 0) return null;
    tail.referrer = line.substring(from + 2, referrerEnd);
    tail.userAgent = line.substring(referrerEnd + 3, agentEnd);
    List<String> extra = new ArrayList<>();
    int i = agentEnd + 1;
    while (i < n && !onlySpaces(line, i)) {
      if (line.charAt(i) != ' ' || i + 1 >= n) return null;
      if (line.charAt(i + 1) == '"') {
        int end = quotedEnd(line, i + 1);
        if (end < 0) return null;
        extra.add(line.substring(i + 2, end));
        i = end + 1;
      } else {
        int end = i + 1;
        while (end < n && line.charAt(end) != ' ' && line.charAt(end) != '"') end++;
        if (end == i + 1 || (end < n && line.charAt(end) == '"')) return null;
        extra.add(line.substring(i + 1, end));
        i = end;
      }
    }
    tail.extra = extra.isEmpty() ? null : extra.toArray(new String[0]);
    return tail;
  }

  /**
   * UTC microseconds of `[dd/Mon/yyyy:HH:mm:ss +zzzz] "` at `at`; null unless every part is a real
   * time (days of the month, years 1583-9999 of the Gregorian calendar, offsets up to +-18:00).
   */
  static Long eventMicros(String s, int at) {
    if (at + 30 > s.length() || s.charAt(at) != '[' || s.charAt(at + 27) != ']' || !s.startsWith(" \"", at + 28)) {
      return null;
    }
    if (s.charAt(at + 3) != '/' || s.charAt(at + 7) != '/' || s.charAt(at + 12) != ':' || s.charAt(at + 15) != ':'
        || s.charAt(at + 18) != ':' || s.charAt(at + 21) != ' ') {
      return null;
    }
    int monthAt = MONTHS.indexOf(s.substring(at + 4, at + 7));
    char sign = s.charAt(at + 22);
    int day = number(s, at + 1, 2), year = number(s, at + 8, 4), hour = number(s, at + 13, 2);
    int minute = number(s, at + 16, 2), second = number(s, at + 19, 2);
    int offsetHours = number(s, at + 23, 2), offsetMinutes = number(s, at + 25, 2);
    if (monthAt < 0 || monthAt % 3 != 0 || (sign != '+' && sign != '-') || year < 1583 || hour < 0 || hour > 23
        || minute < 0 || minute > 59 || second < 0 || second > 59 || offsetHours < 0 || offsetMinutes < 0
        || offsetMinutes > 59) {
      return null;
    }
    int month = monthAt / 3 + 1;
    int offset = offsetHours * 60 + offsetMinutes;
    if (day < 1 || day > daysInMonth(year, month) || offset > MAX_OFFSET_MINUTES) return null;
    long east = sign == '-' ? -offset : offset;
    long seconds = daysFromCivil(year, month, day) * 86400L + hour * 3600L + minute * 60L + second - east * 60L;
    return seconds * 1_000_000L;
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

  private static Integer status(String s, int at) {
    int value = number(s, at, 3);
    return value >= 100 && value <= 599 ? value : null;
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
    return s == null || s.isEmpty() || s.equals("-") ? null : s;
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

  private static boolean digits(String s, int maxLength) {
    if (s.isEmpty() || s.length() > maxLength) return false;
    for (int i = 0; i < s.length(); i++) {
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
