package lakeml;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.regex.Pattern;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.catalyst.expressions.Expression;
import org.apache.spark.sql.catalyst.expressions.GenericInternalRow;
import org.apache.spark.sql.catalyst.expressions.objects.StaticInvoke;
import org.apache.spark.sql.catalyst.util.ArrayBasedMapData;
import org.apache.spark.sql.catalyst.util.GenericArrayData;
import org.apache.spark.sql.types.AbstractDataType;
import org.apache.spark.sql.types.ArrayType;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.MapType;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.unsafe.types.UTF8String;
import scala.collection.JavaConverters;
import scala.collection.Seq;

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
 * <p>It runs inside Spark's generated code as a static call ({@link #columns}, {@link #eventTime}):
 * it reads the line's UTF-8 bytes and returns Spark's own values (the strings are views of one copy
 * of the line), so no value is converted between Java and Spark types.
 */
public final class AccessLineParser {
  private static final String MONTHS = "JanFebMarAprMayJunJulAugSepOctNovDec";
  // Kept equal to BOT_HINTS and BOT_PATTERN in jobs/ingest_logs.py (a test compares them).
  public static final String[] BOT_HINTS = {"bot", "crawl", "spider", "slurp", "facebookexternalhit",
      "ia_archiver", "mediapartners", "feedfetcher", "bingpreview", "yandex", "archive.org", "petalsearch"};
  public static final String BOT_PATTERN = "(?i)bot\\b|bot/|crawl|spider|slurp|facebookexternalhit|ia_archiver|"
      + "mediapartners-google|feedfetcher|bingpreview|yandex(?:images|metrika)|archive\\.org|petalsearch";
  public static final String ABSOLUTE_URL_HEAD = "^[A-Za-z][A-Za-z0-9+.-]*://[^/]*";
  private static final Pattern BOT = Pattern.compile(BOT_PATTERN);
  private static final Pattern URL_HEAD = Pattern.compile(ABSOLUTE_URL_HEAD);
  private static final byte[][][] HINTS_BY_FIRST_BYTE = hintsByFirstByte();
  private static final int MAX_OFFSET_MINUTES = 18 * 60;
  private static final long NO_TIME = Long.MIN_VALUE;

  /** The columns of {@link #parse}, in order (ingest_logs.ACCESS_PARSER_FIELDS; a test compares them). */
  public static final StructType SCHEMA = new StructType()
      .add("client", DataTypes.StringType)
      .add("user", DataTypes.StringType)
      .add("method", DataTypes.StringType)
      .add("url", DataTypes.StringType)
      .add("path", DataTypes.StringType)
      .add("query", new MapType(DataTypes.StringType, DataTypes.StringType, true))
      .add("protocol", DataTypes.StringType)
      .add("status", DataTypes.IntegerType)
      .add("bytes", DataTypes.LongType)
      .add("referrer", DataTypes.StringType)
      .add("user_agent", DataTypes.StringType)
      .add("is_bot", DataTypes.BooleanType)
      .add("extra", new ArrayType(DataTypes.StringType, true))
      .add("event_micros", DataTypes.LongType);

  private AccessLineParser() {}

  /** The column of {@link #parse} over a string column: a struct of SCHEMA, null where the parser declines. */
  public static Column columns(Column line) {
    return staticCall("parse", SCHEMA, line);
  }

  /** The column of {@link #eventMicros} over a string column: the same decision, only the event time. */
  public static Column eventTime(Column line) {
    return staticCall("eventMicros", DataTypes.LongType, line);
  }

  private static Column staticCall(String method, DataType type, Column line) {
    Seq<Expression> arguments = JavaConverters.asScalaBuffer(Arrays.asList(line.expr())).toList();
    Seq<AbstractDataType> noCasts = JavaConverters.asScalaBuffer(Arrays.<AbstractDataType>asList()).toList();
    // propagateNull (a null line is null), returnNullable, deterministic
    return new Column(new StaticInvoke(AccessLineParser.class, type, method, arguments, noCasts, true, true, true));
  }

  /** The table's typed columns of a line (in SCHEMA's order), or null for a line left to the regex path. */
  public static InternalRow parse(UTF8String text) {
    byte[] s = text.getBytes();
    Fields f = scan(s);
    if (f == null) return null;
    int requestFrom = f.userEnd + 31;
    int firstSpace = indexOf(s, (byte) ' ', requestFrom, f.requestEnd);
    int secondSpace = firstSpace < 0 ? -1 : indexOf(s, (byte) ' ', firstSpace + 1, f.requestEnd);
    boolean requestOk = firstSpace >= 0 && (secondSpace < 0 || indexOf(s, (byte) ' ', secondSpace + 1, f.requestEnd) < 0);
    UTF8String url;
    int urlFrom = requestFrom;
    int urlEnd = f.requestEnd;
    if (requestOk) {
      urlFrom = firstSpace + 1;
      urlEnd = secondSpace < 0 ? f.requestEnd : secondSpace;
      url = slice(s, urlFrom, urlEnd);
    } else {
      url = dashToNull(s, requestFrom, f.requestEnd);
    }
    int queryAt = url == null ? -1 : indexOf(s, (byte) '?', urlFrom, urlEnd);
    boolean noBytes = f.bytesEnd == f.statusEnd + 2 && s[f.statusEnd + 1] == '-';
    UTF8String userAgent = f.agentFrom < 0 ? null : dashToNull(s, f.agentFrom, f.agentEnd);
    return new GenericInternalRow(new Object[] {
      slice(s, 0, f.clientEnd),
      dashToNull(s, f.identEnd + 1, f.userEnd),
      requestOk ? slice(s, requestFrom, firstSpace) : null,
      url,
      url == null ? null : path(s, urlFrom, queryAt < 0 ? urlEnd : queryAt),
      queryAt < 0 ? null : queryMap(s, queryAt + 1, urlEnd),
      requestOk && secondSpace >= 0 ? slice(s, secondSpace + 1, f.requestEnd) : null,
      f.status,
      noBytes ? null : decimal(s, f.statusEnd + 1, f.bytesEnd),
      f.referrerFrom < 0 ? null : dashToNull(s, f.referrerFrom, f.referrerEnd),
      userAgent,
      userAgent != null && isBot(s, f.agentFrom, f.agentEnd),
      extra(s, f.extra, f.extraCount),
      f.micros
    });
  }

  /** The event time (UTC microseconds) of a line {@link #parse} takes, or null for every other line. */
  public static Long eventMicros(UTF8String text) {
    Fields f = scan(text.getBytes());
    return f == null ? null : f.micros;
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
  static Fields scan(byte[] s) {
    if (!printableAscii(s)) return null;
    Fields f = new Fields();
    f.clientEnd = indexOf(s, (byte) ' ', 0, s.length);
    if (f.clientEnd <= 0) return null;
    f.identEnd = indexOf(s, (byte) ' ', f.clientEnd + 1, s.length);
    if (f.identEnd <= f.clientEnd + 1) return null;
    f.userEnd = indexOf(s, (byte) ' ', f.identEnd + 1, s.length);
    if (f.userEnd <= f.identEnd + 1) return null;
    int at = f.userEnd + 1;
    f.micros = stampMicros(s, at);
    if (f.micros == NO_TIME) return null;
    f.requestEnd = quotedEnd(s, at + 29);
    if (f.requestEnd < 0 || f.requestEnd + 1 >= s.length || s[f.requestEnd + 1] != ' ') return null;
    int statusAt = f.requestEnd + 2;
    f.statusEnd = tokenEnd(s, statusAt);
    if (f.statusEnd != statusAt + 3 || f.statusEnd >= s.length) return null;
    f.status = number(s, statusAt, 3);
    if (f.status < 100 || f.status > 599) return null;
    f.bytesEnd = tokenEnd(s, f.statusEnd + 1);
    int bytesLength = f.bytesEnd - f.statusEnd - 1;
    boolean dash = bytesLength == 1 && s[f.statusEnd + 1] == '-';
    if (bytesLength < 1 || (!dash && !digits(s, f.statusEnd + 1, f.bytesEnd, 18))) return null;
    return tail(s, f) ? f : null;
  }

  /** What follows the bytes: nothing or spaces, or ` "referrer" "agent"` then ` field`s; false if neither. */
  private static boolean tail(byte[] s, Fields f) {
    int from = f.bytesEnd;
    int n = s.length;
    if (onlySpaces(s, from)) return true;
    if (!startsWithSpaceQuote(s, from)) return false;
    int referrerEnd = quotedEnd(s, from + 1);
    if (referrerEnd < 0 || !startsWithSpaceQuote(s, referrerEnd + 1)) return false;
    int agentEnd = quotedEnd(s, referrerEnd + 2);
    if (agentEnd < 0) return false;
    f.referrerFrom = from + 2;
    f.referrerEnd = referrerEnd;
    f.agentFrom = referrerEnd + 3;
    f.agentEnd = agentEnd;
    int i = agentEnd + 1;
    while (i < n && !onlySpaces(s, i)) {
      if (s[i] != ' ' || i + 1 >= n) return false;
      if (s[i + 1] == '"') {
        int end = quotedEnd(s, i + 1);
        if (end < 0) return false;
        addExtra(f, i + 2, end);
        i = end + 1;
      } else {
        int end = i + 1;
        while (end < n && s[end] != ' ' && s[end] != '"') end++;
        if (end == i + 1 || (end < n && s[end] == '"')) return false;
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
      f.extra = Arrays.copyOf(f.extra, f.extra.length * 2);
    }
    f.extra[f.extraCount * 2] = from;
    f.extra[f.extraCount * 2 + 1] = end;
    f.extraCount++;
  }

  private static GenericArrayData extra(byte[] s, int[] bounds, int count) {
    if (count == 0) return null;
    Object[] fields = new Object[count];
    for (int k = 0; k < count; k++) fields[k] = slice(s, bounds[2 * k], bounds[2 * k + 1]);
    return new GenericArrayData(fields);
  }

  /**
   * UTC microseconds of `[dd/Mon/yyyy:HH:mm:ss +zzzz] "` at `at`; NO_TIME unless every part is a real
   * time (days of the month, years 1583-9999 of the Gregorian calendar, offsets up to +-18:00).
   */
  static long stampMicros(byte[] s, int at) {
    if (at + 30 > s.length || s[at] != '[' || s[at + 27] != ']' || !startsWithSpaceQuote(s, at + 28)) {
      return NO_TIME;
    }
    if (s[at + 3] != '/' || s[at + 7] != '/' || s[at + 12] != ':' || s[at + 15] != ':' || s[at + 18] != ':'
        || s[at + 21] != ' ') {
      return NO_TIME;
    }
    int month = month(s, at + 4);
    byte sign = s[at + 22];
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
  private static int month(byte[] s, int at) {
    for (int m = 0; m < 12; m++) {
      int k = m * 3;
      if (s[at] == MONTHS.charAt(k) && s[at + 1] == MONTHS.charAt(k + 1) && s[at + 2] == MONTHS.charAt(k + 2)) {
        return m + 1;
      }
    }
    return -1;
  }

  /** Index of the quote closing the quoted field that opens at `from` (backslash escapes a character), or -1. */
  static int quotedEnd(byte[] s, int from) {
    if (from >= s.length || s[from] != '"') return -1;
    for (int i = from + 1; i < s.length; i++) {
      if (s[i] == '\\') {
        i++;
      } else if (s[i] == '"') {
        return i;
      }
    }
    return -1;
  }

  /** The URL's path, s[from, end), without the scheme and host of an absolute URL. */
  private static UTF8String path(byte[] s, int from, int end) {
    if (indexOf(s, (byte) ':', from, end) < 0) return slice(s, from, end);
    String path = new String(s, from, end - from, StandardCharsets.US_ASCII);
    return UTF8String.fromString(URL_HEAD.matcher(path).replaceFirst(""));
  }

  /** `a=1&b=2` in s[from, end) -> {a: 1, b: 2} in order; empty pairs skipped; a repeated key keeps its first value. */
  static ArrayBasedMapData queryMap(byte[] s, int from, int end) {
    Object[] keys = new Object[4];
    Object[] values = new Object[4];
    int size = 0;
    for (int start = from; start <= end; ) {
      int pairEnd = indexOf(s, (byte) '&', start, end);
      if (pairEnd < 0) pairEnd = end;
      if (pairEnd > start) {
        int eq = indexOf(s, (byte) '=', start, pairEnd);
        UTF8String key = slice(s, start, eq < 0 ? pairEnd : eq);
        if (!contains(keys, size, key)) {
          if (size == keys.length) {
            keys = Arrays.copyOf(keys, size * 2);
            values = Arrays.copyOf(values, size * 2);
          }
          keys[size] = key;
          values[size++] = eq < 0 ? UTF8String.EMPTY_UTF8 : slice(s, eq + 1, pairEnd);
        }
      }
      start = pairEnd + 1;
    }
    return new ArrayBasedMapData(
        new GenericArrayData(Arrays.copyOf(keys, size)), new GenericArrayData(Arrays.copyOf(values, size)));
  }

  private static boolean contains(Object[] items, int size, Object item) {
    for (int k = 0; k < size; k++) {
      if (items[k].equals(item)) return true;
    }
    return false;
  }

  /**
   * BOT_PATTERN's verdict on the user agent s[from, end). The pattern runs only when a hint occurs
   * (every alternative of the pattern holds one): most agents are decided by one pass over their bytes.
   */
  static boolean isBot(byte[] s, int from, int end) {
    for (int i = from; i < end; i++) {
      byte[][] hints = HINTS_BY_FIRST_BYTE[lower(s[i])];
      if (hints == null) continue;
      for (byte[] hint : hints) {
        if (startsWithIgnoringCase(s, i, end, hint)) {
          return BOT.matcher(new String(s, from, end - from, StandardCharsets.US_ASCII)).find();
        }
      }
    }
    return false;
  }

  private static byte[][][] hintsByFirstByte() {
    byte[][][] table = new byte[128][][];
    for (String hint : BOT_HINTS) {
      byte[] bytes = hint.getBytes(StandardCharsets.US_ASCII);
      byte[][] same = table[bytes[0]];
      same = same == null ? new byte[1][] : Arrays.copyOf(same, same.length + 1);
      same[same.length - 1] = bytes;
      table[bytes[0]] = same;
    }
    return table;
  }

  private static boolean startsWithIgnoringCase(byte[] s, int at, int end, byte[] lowerPrefix) {
    if (end - at < lowerPrefix.length) return false;
    for (int k = 0; k < lowerPrefix.length; k++) {
      if (lower(s[at + k]) != lowerPrefix[k]) return false;
    }
    return true;
  }

  /** An ASCII byte in lower case (the parser takes only printable ASCII lines). */
  private static int lower(byte b) {
    return b >= 'A' && b <= 'Z' ? b + ('a' - 'A') : b;
  }

  private static UTF8String slice(byte[] s, int from, int end) {
    return UTF8String.fromBytes(s, from, end - from);
  }

  private static UTF8String dashToNull(byte[] s, int from, int end) {
    return end == from || (end == from + 1 && s[from] == '-') ? null : slice(s, from, end);
  }

  private static boolean printableAscii(byte[] s) {
    for (byte b : s) {
      if (b < 0x20 || b > 0x7e) return false;
    }
    return true;
  }

  private static boolean startsWithSpaceQuote(byte[] s, int at) {
    return at + 1 < s.length && s[at] == ' ' && s[at + 1] == '"';
  }

  private static boolean onlySpaces(byte[] s, int from) {
    for (int i = from; i < s.length; i++) {
      if (s[i] != ' ') return false;
    }
    return true;
  }

  /** The first index of `b` in s[from, end), or -1. */
  private static int indexOf(byte[] s, byte b, int from, int end) {
    for (int i = from; i < end; i++) {
      if (s[i] == b) return i;
    }
    return -1;
  }

  private static int tokenEnd(byte[] s, int from) {
    int i = from;
    while (i < s.length && s[i] != ' ') i++;
    return i;
  }

  /** True when s[from, end) is 1 to maxLength decimal digits. */
  private static boolean digits(byte[] s, int from, int end, int maxLength) {
    if (end <= from || end - from > maxLength) return false;
    for (int i = from; i < end; i++) {
      if (s[i] < '0' || s[i] > '9') return false;
    }
    return true;
  }

  /** The value of the decimal digits s[from, end) (at most 18 of them, checked by scan). */
  private static long decimal(byte[] s, int from, int end) {
    long value = 0;
    for (int i = from; i < end; i++) value = value * 10 + (s[i] - '0');
    return value;
  }

  /** The non-negative decimal number of `count` digits at `from`, or -1. */
  private static int number(byte[] s, int from, int count) {
    int value = 0;
    for (int i = from; i < from + count; i++) {
      if (s[i] < '0' || s[i] > '9') return -1;
      value = value * 10 + (s[i] - '0');
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
