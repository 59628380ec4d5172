"""The pyspark.ml stage that adds the concatenated address and its key."""

from __future__ import annotations

import json
from typing import Any, Dict, Optional

from pyspark.ml import Transformer
from pyspark.ml.param import Param, Params, TypeConverters
from pyspark.sql import DataFrame

from features.address.columns import with_address
from features.stage_io import StageReadable, StageWritable


class _ConcatAddressParams(Params):
    """Params of ConcatAddress: the parts' input columns, the output columns, and whether to abbreviate."""

    parts = Param(Params._dummy(), "parts", "JSON object: address part -> input column", TypeConverters.toString)
    outputCol = Param(Params._dummy(), "outputCol", "output column of the address", TypeConverters.toString)
    keyCol = Param(
        Params._dummy(), "keyCol", "output column of the address key; empty for none", TypeConverters.toString
    )
    abbreviate = Param(Params._dummy(), "abbreviate", "USPS abbreviations", TypeConverters.toBoolean)

    def __init__(self, *args: Any):
        super().__init__(*args)
        self._setDefault(parts="{}", outputCol="address", keyCol="address_key", abbreviate=False)

    def getParts(self) -> Dict[str, str]:
        """Address part -> input column."""
        return json.loads(self.getOrDefault(self.parts))

    def getOutputCol(self) -> str:
        """The column of the concatenated address."""
        return self.getOrDefault(self.outputCol)

    def getKeyCol(self) -> str:
        """The column of the address key ('' for none)."""
        return self.getOrDefault(self.keyCol)

    def getAbbreviate(self) -> bool:
        """Whether parts take their USPS abbreviations."""
        return self.getOrDefault(self.abbreviate)


class ConcatAddress(Transformer, _ConcatAddressParams, StageReadable, StageWritable):
    """pyspark.ml stage: adds `outputCol` (concat_address) and, if set, `keyCol` (address_key)."""

    __module__ = "features.address"  # the class path saved pipelines record: the package's, not this file's

    def __init__(
        self,
        parts: Optional[Dict[str, str]] = None,
        outputCol: str = "address",
        keyCol: str = "address_key",
        abbreviate: bool = False,
    ) -> None:
        super().__init__()
        self.setParams(parts=parts, outputCol=outputCol, keyCol=keyCol, abbreviate=abbreviate)

    def setParams(
        self,
        parts: Optional[Dict[str, str]] = None,
        outputCol: str = "address",
        keyCol: str = "address_key",
        abbreviate: bool = False,
    ) -> ConcatAddress:
        """Set every param (the parts as a mapping)."""
        parts_json = json.dumps(parts or {}, sort_keys=True)
        return self._set(parts=parts_json, outputCol=outputCol, keyCol=keyCol, abbreviate=abbreviate)

    def setParts(self, value: Dict[str, str]) -> ConcatAddress:
        """Set the mapping address part -> input column."""
        return self._set(parts=json.dumps(value, sort_keys=True))

    def setOutputCol(self, value: str) -> ConcatAddress:
        """Set the column of the concatenated address."""
        return self._set(outputCol=value)

    def setKeyCol(self, value: str) -> ConcatAddress:
        """Set the column of the address key ('' for none)."""
        return self._set(keyCol=value)

    def setAbbreviate(self, value: bool) -> ConcatAddress:
        """Set whether parts take their USPS abbreviations."""
        return self._set(abbreviate=value)

    def _transform(self, dataset: DataFrame) -> DataFrame:
        return with_address(
            dataset,
            self.getParts(),
            output_col=self.getOutputCol(),
            key_col=self.getKeyCol() or None,
            abbreviate=self.getAbbreviate(),
        )
