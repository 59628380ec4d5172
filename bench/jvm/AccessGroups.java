import org.apache.spark.sql.api.java.UDF1;

/**
 * A hand-written parser for the access-log layout the bench generates, returning the same 19-element
 * array as ingest_logs' one regex (`regexp_replace` into separator-joined groups, then `split`):
 * element 0 empty, then vhost, client, user, day, month, year, hour, minute, second, offset sign,
 * offset hours, offset minutes, request, status, bytes, referrer, user agent, trailing fields.
 * A line it does not take comes back as a one-element array (like the regex leaving it unchanged).
 * Bench only: it measures what a compiled parser would cost; the vhost prefix is not handled.
 */
public class AccessGroups implements UDF1<String, String[]> {
  public String[] call(String line) {
    if (line == null) return null;
    String[] g = new String[19];
    g[0] = "";
    g[1] = "";
    int n = line.length();
    int sp = nonSpaceEnd(line, 0);
    if (sp == 0 || sp >= n) return rejected(line);
    g[2] = line.substring(0, sp);
    int i = sp + 1;
    sp = nonSpaceEnd(line, i);  // ident
    if (sp == i || sp >= n) return rejected(line);
    i = sp + 1;
    sp = nonSpaceEnd(line, i);
    if (sp == i || sp >= n) return rejected(line);
    g[3] = line.substring(i, sp);
    i = sp + 1;
    if (i + 29 > n || line.charAt(i) != '[' || line.charAt(i + 27) != ']' || line.charAt(i + 28) != ' ') {
      return rejected(line);
    }
    if (!digits(line, i + 1, 2) || line.charAt(i + 3) != '/' || !letters(line, i + 4, 3) || line.charAt(i + 7) != '/'
        || !digits(line, i + 8, 4) || line.charAt(i + 12) != ':' || !digits(line, i + 13, 2)
        || line.charAt(i + 15) != ':' || !digits(line, i + 16, 2) || line.charAt(i + 18) != ':'
        || !digits(line, i + 19, 2) || line.charAt(i + 21) != ' ' || !digits(line, i + 23, 4)) {
      return rejected(line);
    }
    char sign = line.charAt(i + 22);
    if (sign != '+' && sign != '-') return rejected(line);
    g[4] = line.substring(i + 1, i + 3);
    g[5] = line.substring(i + 4, i + 7);
    g[6] = line.substring(i + 8, i + 12);
    g[7] = line.substring(i + 13, i + 15);
    g[8] = line.substring(i + 16, i + 18);
    g[9] = line.substring(i + 19, i + 21);
    g[10] = String.valueOf(sign);
    g[11] = line.substring(i + 23, i + 25);
    g[12] = line.substring(i + 25, i + 27);
    i += 29;
    int close = quotedEnd(line, i);
    if (close < 0) return rejected(line);
    g[13] = line.substring(i + 1, close);
    i = close + 1;
    if (i >= n || line.charAt(i) != ' ') return rejected(line);
    sp = nonSpaceEnd(line, ++i);
    if (sp == i || sp >= n) return rejected(line);
    g[14] = line.substring(i, sp);
    i = sp + 1;
    sp = nonSpaceEnd(line, i);
    if (sp == i) return rejected(line);
    g[15] = line.substring(i, sp);
    i = sp;
    g[16] = "";
    g[17] = "";
    g[18] = "";
    if (i < n && line.charAt(i) == ' ' && i + 1 < n && line.charAt(i + 1) == '"') {
      int ref = quotedEnd(line, i + 1);
      if (ref > 0 && ref + 2 < n && line.charAt(ref + 1) == ' ' && line.charAt(ref + 2) == '"') {
        int ua = quotedEnd(line, ref + 2);
        if (ua > 0) {
          g[16] = line.substring(i + 2, ref);
          g[17] = line.substring(ref + 3, ua);
          i = ua + 1;
        }
      }
    }
    int end = n;
    while (end > i && Character.isWhitespace(line.charAt(end - 1))) end--;
    if (end > i) g[18] = line.substring(i, end);
    return g;
  }

  private static String[] rejected(String line) {
    return new String[] {line};
  }

  private static int nonSpaceEnd(String s, int from) {
    int i = from;
    while (i < s.length() && !Character.isWhitespace(s.charAt(i))) i++;
    return i;
  }

  /** Index of the closing quote of the quoted field starting at `from` (backslash escapes), or -1. */
  private static int quotedEnd(String s, int from) {
    if (from >= s.length() || s.charAt(from) != '"') return -1;
    for (int i = from + 1; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c == '\\') i++;
      else if (c == '"') return i;
    }
    return -1;
  }

  private static boolean digits(String s, int from, int count) {
    for (int i = from; i < from + count; i++) {
      char c = s.charAt(i);
      if (c < '0' || c > '9') return false;
    }
    return true;
  }

  private static boolean letters(String s, int from, int count) {
    for (int i = from; i < from + count; i++) {
      char c = s.charAt(i);
      if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'))) return false;
    }
    return true;
  }
}
