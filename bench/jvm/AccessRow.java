import java.sql.Timestamp;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.api.java.UDF1;

/**
 * Bench only: the typed columns of ingest_logs' table for one access line, computed in compiled code
 * from AccessGroups' groups (event_ts in UTC, client, user, method, url, path, query map, protocol,
 * status, bytes, referrer, user_agent, is_bot, reason). It measures what moving the whole access-line
 * parse out of Spark expressions would cost; it is not a second implementation of the job's rules
 * (no vhost, no trailing fields, a simplified reason).
 */
public class AccessRow implements UDF1<String, Row> {
  private static final String MONTHS = "JanFebMarAprMayJunJulAugSepOctNovDec";
  private static final String[] BOT_HINTS = {"bot", "crawl", "spider", "slurp", "facebookexternalhit",
      "ia_archiver", "mediapartners", "feedfetcher", "bingpreview", "yandex", "archive.org", "petalsearch"};
  private static final Pattern BOT = Pattern.compile(
      "(?i)bot\\b|bot/|crawl|spider|slurp|facebookexternalhit|ia_archiver|mediapartners-google|"
          + "feedfetcher|bingpreview|yandex(?:images|metrika)|archive\\.org|petalsearch");
  private static final Pattern ABSOLUTE_URL_HEAD = Pattern.compile("^[A-Za-z][A-Za-z0-9+.-]*://[^/]*");
  private final AccessGroups groups = new AccessGroups();

  public Row call(String line) {
    String[] g = groups.call(line);
    if (g == null || g.length != 19) return reject("unparseable");
    int month = MONTHS.indexOf(g[5]);
    if (month < 0 || month % 3 != 0) return reject("bad_timestamp");
    int offset = Integer.parseInt(g[11]) * 60 + Integer.parseInt(g[12]);
    if (Integer.parseInt(g[12]) > 59 || offset > 18 * 60) return reject("bad_timestamp");
    if (g[10].equals("-")) offset = -offset;
    int day = Integer.parseInt(g[4]), hour = Integer.parseInt(g[7]);
    int minute = Integer.parseInt(g[8]), second = Integer.parseInt(g[9]);
    if (day < 1 || day > 31 || hour > 23 || minute > 59 || second > 59) return reject("bad_timestamp");
    long days = daysFromCivil(Integer.parseInt(g[6]), month / 3 + 1, day);
    long epochSeconds = days * 86400L + hour * 3600L + minute * 60L + second - offset * 60L;
    Timestamp eventTs = new Timestamp(epochSeconds * 1000L);
    Integer status;
    try {
      status = Integer.valueOf(g[14]);
    } catch (NumberFormatException e) {
      return reject("bad_status");
    }
    if (status < 100 || status > 599) return reject("bad_status");
    Long bytes = null;
    if (!g[15].equals("-")) {
      try {
        bytes = Long.valueOf(g[15]);
      } catch (NumberFormatException e) {
        return reject("bad_bytes");
      }
    }
    String[] request = g[13].split(" ", -1);
    boolean requestOk = request.length == 2 || request.length == 3;
    String url = requestOk ? request[1] : (g[13].equals("-") || g[13].isEmpty() ? null : g[13]);
    String path = null;
    Map<String, String> query = null;
    if (url != null) {
      int q = url.indexOf('?');
      path = q < 0 ? url : url.substring(0, q);
      if (path.contains("://")) path = ABSOLUTE_URL_HEAD.matcher(path).replaceFirst("");
      if (q >= 0) query = queryMap(url.substring(q + 1));
    }
    String agent = dash(g[17]);
    return RowFactory.create(eventTs, empty(g[2]), dash(g[3]), requestOk ? request[0] : null, url, path, query,
        requestOk && request.length == 3 ? request[2] : null, status, bytes, dash(g[16]), agent,
        agent != null && isBot(agent), null);
  }

  private static Row reject(String reason) {
    return RowFactory.create(null, null, null, null, null, null, null, null, null, null, null, null, null, reason);
  }

  private static String empty(String s) {
    return s.isEmpty() ? null : s;
  }

  private static String dash(String s) {
    return s.isEmpty() || s.equals("-") ? null : s;
  }

  private static Map<String, String> queryMap(String qs) {
    Map<String, String> map = new LinkedHashMap<>();
    for (String pair : qs.split("&")) {
      if (pair.isEmpty()) continue;
      int eq = pair.indexOf('=');
      map.putIfAbsent(eq < 0 ? pair : pair.substring(0, eq), eq < 0 ? "" : pair.substring(eq + 1));
    }
    return map;
  }

  private static boolean isBot(String agent) {
    String lower = agent.toLowerCase(Locale.ROOT);
    for (String hint : BOT_HINTS) {
      if (lower.contains(hint)) return BOT.matcher(agent).find();
    }
    return false;
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
