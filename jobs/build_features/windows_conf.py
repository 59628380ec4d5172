"""build_features' `windows` CONF section: readings cut into time windows (features.windows).

    windows:
      readings: {data: raw/har/readings/}        # or {table: NAME}; data may take schema_file
      entity: [subject, experiment]
      order: sequence
      label: activity
      labels: [WALKING, SITTING]                  # optional: keep these labels' windows only
      channels: [acc_x, acc_y, acc_z]
      size: 128
      step: 64                                   # unit: samples (or seconds)
      rate_hz: 50
      magnitudes: {acc_mag: [acc_x, acc_y, acc_z]}
      accelerometer: [acc_x, acc_y, acc_z]
      correlations: [[acc_x, acc_y, acc_z]]

With windows, the windows are the base: one row per window, key `window_id`. Without a schema
the feature set's schema is generated (window_schema: the label as CATEGORICAL target, every
feature NUMERIC, `window_id` the rowId), and without a recipe every feature goes into the
vector as it is (`ALL_NUMERIC`).
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any, Dict, List, Literal, Optional, Tuple

from pydantic import model_validator

from core.conf import ConfModel, Field, FieldError, Number, StrictBool, StrictStr


class Readings(ConfModel):
    """Where the readings are: a lake table, or a CSV datasource read by Amazon ML's rules."""

    table: Optional[StrictStr] = Field(None, description="<lake>/tables/<table>")
    data: Optional[StrictStr] = Field(
        None, description="a CSV file or prefix: a URI, or a path relative to the lake (raw/...)"
    )
    schema_file: Optional[StrictStr] = Field(
        None, description="the datasource's schema (relative to the CONF); default <data>.schema or <prefix>/.schema"
    )

    @model_validator(mode="after")
    def _one_form(self) -> Readings:
        if (self.table is None) == (self.data is None):
            raise FieldError("table", "give exactly one of table (a lake table) and data (CSV files)")
        if self.schema_file is not None and self.data is None:
            raise FieldError("schema_file", "goes with data")
        return self


class Windows(ConfModel):
    """Fixed windows per entity that never cross an entity, a label change or a gap (features.windows)."""

    readings: Readings
    entity: Tuple[StrictStr, ...] = Field(description="the columns of one series (device, user, recording)")
    order: StrictStr = Field(description="the sequence number or time column")
    channels: Tuple[StrictStr, ...] = Field(min_length=1, description="the numeric channels")
    size: Number = Field(gt=0, description="window length, in unit")
    step: Number = Field(gt=0, description="distance between window starts (size/2: 50% overlap)")
    unit: Literal["samples", "seconds"] = "samples"
    label: Optional[StrictStr] = Field(None, description="the label column: a change starts a new segment")
    labels: Optional[Tuple[StrictStr, ...]] = Field(None, description="keep the windows of these labels only")
    rate_hz: Optional[Number] = Field(None, gt=0, description="samples per second (spectra, seconds, gravity)")
    max_gap: Optional[Number] = Field(None, gt=0, description="an order jump above this starts a new segment")
    complete_only: StrictBool = Field(True, description="drop windows cut short by a segment's end")
    magnitudes: Dict[StrictStr, Tuple[StrictStr, ...]] = Field(
        default_factory=dict, description="name -> channels: the per-reading Euclidean norm as a channel"
    )
    accelerometer: Optional[Tuple[StrictStr, ...]] = Field(
        None, description="x, y, z channels for the gravity/body split (adds <axis>_body channels)"
    )
    gravity_cutoff_hz: Number = Field(0.3, gt=0, description="the gravity low-pass cutoff")
    percentiles: Tuple[Number, ...] = Field((0.1, 0.25, 0.5, 0.75, 0.9), description="fractions 0..1")
    bands: Tuple[Tuple[Number, Number], ...] = Field(
        ((0, 1), (1, 3), (3, 6), (6, 12), (12, 25)), description="[lo, hi) Hz band energies"
    )
    spectral: StrictBool = Field(True, description="band energies and dominant frequency (FFT)")
    correlations: Tuple[Tuple[StrictStr, ...], ...] = Field(
        (), description="groups of channels: the Pearson correlation of every pair within a group"
    )

    @model_validator(mode="after")
    def _consistent(self) -> Windows:
        try:
            self.spec()
        except ValueError as error:
            raise FieldError("", str(error)) from None
        if self.labels is not None and self.label is None:
            raise FieldError("labels", "needs label")
        return self

    def spec(self) -> Any:
        """The features.windows.WindowSpec of this section (its fields have the same names)."""
        from features.window_spec import WindowSpec

        values = {f.name: getattr(self, f.name) for f in fields(WindowSpec)}
        values.update(
            magnitudes=dict(self.magnitudes),
            percentiles=tuple(float(p) for p in self.percentiles),
            bands=tuple((float(lo), float(hi)) for lo, hi in self.bands),
        )
        return WindowSpec(**values)


def window_schema(spec: Any) -> Dict[str, Any]:
    """The generated schema of a window feature set: window_id rowId, the label target, features NUMERIC."""
    from features.schema import load_schema
    from features.window_spec import feature_columns

    attributes: List[Dict[str, str]] = [{"attributeName": "window_id", "attributeType": "CATEGORICAL"}]
    if spec.label:
        attributes.append({"attributeName": spec.label, "attributeType": "CATEGORICAL"})
    attributes += [{"attributeName": c, "attributeType": "NUMERIC"} for c in feature_columns(spec)]
    schema = {"version": "1.0", "rowId": "window_id", "targetAttributeName": spec.label, "attributes": attributes}
    return load_schema(schema)


def window_recipe() -> Dict[str, Any]:
    """The default recipe of a window feature set: every numeric feature as it is."""
    return {"groups": {}, "assignments": {}, "outputs": ["ALL_NUMERIC"]}
