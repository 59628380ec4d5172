package lakeml;

import org.apache.spark.sql.api.java.UDF1;

/**
 * The event time (UTC microseconds since the epoch) of an access-log line that AccessLineParser
 * takes, or null for every line it leaves to the regex path: the same decision, without building
 * the columns. ingest_logs' counting pass needs no more than this for such lines.
 */
public final class AccessLineTime implements UDF1<String, Long> {
  private static final long serialVersionUID = 1L;

  @Override
  public Long call(String line) {
    AccessLineParser.Fields fields = AccessLineParser.scan(line);
    return fields == null ? null : fields.micros;
  }
}
