"""The framework's floor: the dashboard's pages drawn again from constant in-memory data.

    streamlit run benchmarks/floor_app.py -- <skeletons.json>

The skeletons file (written by the benchmark from AppTest runs of the real pages) holds, per
page, the sidebar widgets, the page's widgets, texts, metrics, tables and the exact Plotly
figures (same traces, same points). This script draws them with the same Streamlit calls and
the same st.navigation structure, with no database and no cache: what is left is the cost of
Streamlit, Plotly and the browser for the same page. The numbers drawn are scaled by the
number of selected states, so every filter change sends new figures that the browser must
really redraw, as on the real page.

Started with sign-in configured (`--secrets.files` holding an `[auth]` section), it makes the
partner's journey as the dashboard does: a visitor not signed in gets a sign-in page at
every page's address, which keeps the link in a cookie; the provider returns to the root,
where the first signed-in run switches to the kept link's page with its filters.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

if str(Path(__file__).resolve().parent.parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.plotly_payload import decode, is_typed_array

NUMERIC_KEYS = ("x", "y", "z")
LINK_COOKIE = "floor_link"


@st.cache_resource
def skeletons(path: str) -> dict[str, Any]:
    return json.loads(Path(path).read_text())


def scaled_figure(spec_json: str, factor: float) -> go.Figure:
    spec = json.loads(spec_json)
    for trace in spec.get("data", []):
        for key in NUMERIC_KEYS:
            value = trace.get(key)
            if is_typed_array(value):
                array = decode(value)
                if array is not None and np.issubdtype(np.asarray(array).dtype, np.number):
                    trace[key] = np.asarray(array, dtype="float64") * factor
            elif (
                isinstance(value, list)
                and value
                and all(isinstance(v, (int, float)) or v is None for v in value)
            ):
                trace[key] = [None if v is None else v * factor for v in value]
    return go.Figure(spec)


def scaled_frame(records: dict[str, Any], factor: float) -> pd.DataFrame:
    frame = pd.DataFrame(records["data"], columns=records["columns"])
    for column in frame.columns:
        if pd.api.types.is_float_dtype(frame[column]):
            frame[column] = frame[column] * factor
    return frame


class Drawer:
    def __init__(self, factor: float, prefix: str, states: tuple[list[str], list[str]]) -> None:
        self.factor = factor
        self.prefix = prefix
        self.count = 0
        self.last_frame: pd.DataFrame | None = None
        self.taken, self.chosen = states

    def text(self, value: str) -> str:
        """A text naming the skeleton's states names the chosen ones instead, as the real
        page's filter line and file names do: a change of states then redraws them here too
        (on a page without charts or tables, such as Downloads, nothing else changes)."""
        if not self.taken or self.taken == self.chosen:
            return value
        for joiner in (", ", "-"):
            value = value.replace(joiner.join(self.taken), joiner.join(self.chosen))
        return value

    def key(self, kind: str) -> str:
        self.count += 1
        return f"{self.prefix}_{kind}_{self.count}"

    def draw(self, items: list[dict[str, Any]]) -> None:
        for item in items:
            self.one(item)

    def one(self, item: dict[str, Any]) -> None:
        kind = item["kind"]
        if kind == "block":
            with st.container():
                self.draw(item["children"])
        elif kind == "tabs":
            for tab, children in zip(st.tabs(item["labels"]), item["tabs"], strict=False):
                with tab:
                    self.draw(children)
        elif kind == "columns":
            for column, children in zip(
                st.columns(len(item["columns"])), item["columns"], strict=True
            ):
                with column:
                    self.draw(children)
        elif kind == "expander":
            with st.expander(item["label"]):
                self.draw(item["children"])
        elif kind == "plotly":
            st.plotly_chart(
                scaled_figure(item["spec"], self.factor),
                key=self.key("chart"),
                width="stretch",
                config=json.loads(item["config"]) if item.get("config") else None,
            )
        elif kind == "dataframe":
            self.last_frame = scaled_frame(item["frame"], self.factor)
            st.dataframe(self.last_frame, hide_index=True, width="stretch")
        elif kind == "table":
            self.last_frame = scaled_frame(item["frame"], self.factor)
            st.table(self.last_frame)
        elif kind == "download_button":
            data = "" if self.last_frame is None else self.last_frame.to_csv(index=False)
            st.download_button(
                item["label"],
                data=data,
                file_name="floor.csv",
                key=self.key("download"),
                on_click="ignore",
            )
        elif kind == "metric":
            st.metric(item["label"], item["value"], delta=item.get("delta"), border=True)
        elif kind in ("title", "header", "subheader", "caption", "code", "text"):
            getattr(st, kind)(self.text(item["text"]))
        elif kind == "markdown":
            st.markdown(self.text(item["text"]))
        elif kind == "divider":
            st.divider()
        elif kind == "selectbox":
            st.selectbox(item["label"], item["options"], key=self.key("selectbox"))
        elif kind == "radio":
            st.radio(item["label"], item["options"], key=self.key("radio"), horizontal=True)
        elif kind == "button":
            st.button(item["label"], key=self.key("button"))
        elif kind in ("info", "warning", "error", "success"):
            getattr(st, kind)(item["text"])
        elif kind == "text_input":
            st.text_input(item["label"], key=self.key("text_input"))
        elif kind == "toggle":
            st.toggle(item["label"], key=self.key("toggle"))
        elif kind == "pills":
            # The real page's key, so that a journey finds the pills by it (`.st-key-<key>`).
            st.pills(
                item["label"],
                item["options"],
                default=item["options"][0],
                key=item.get("key") or self.key("pills"),
            )


def state_codes(labels: list[str]) -> list[str]:
    """The codes of state options ("TX · Texas"), in the order the real page lists them."""
    return sorted(label.split(" ")[0] for label in labels)


def sidebar(items: list[dict[str, Any]]) -> list[str]:
    """The same sidebar widgets; returns the codes of the selected states."""
    selected_states: list[str] = []
    for item in items:
        kind = item["kind"]
        if kind == "multiselect":
            key = f"floor_{item.get('key') or item['label']}"
            if key not in st.session_state:
                wanted = (
                    st.query_params.get_all("state") if item.get("key") == "filter_states" else []
                )
                if item.get("key") == "filter_states":
                    st.session_state[key] = [
                        o for o in item["options"] if o.split(" ")[0] in wanted
                    ]
                else:
                    st.session_state[key] = list(item["options"])
            chosen = st.sidebar.multiselect(item["label"], item["options"], key=key)
            if item.get("key") == "filter_states":
                selected_states = state_codes(chosen)
        elif kind == "select_slider" and len(item["options"]) > 1:
            st.sidebar.select_slider(
                item["label"],
                item["options"],
                value=(item["options"][0], item["options"][-1]),
                key=f"floor_{item['label']}",
            )
        elif kind == "radio":
            st.sidebar.radio(item["label"], item["options"], key=f"floor_{item['label']}")
        elif kind == "button":
            st.sidebar.button(item["label"], key=f"floor_{item['label']}")
        elif kind in ("header", "caption", "markdown", "subheader"):
            getattr(st.sidebar, kind)(item["text"])
    return selected_states


def page(name: str, spec: dict[str, Any]) -> None:
    chosen: list[str] = st.session_state.get("floor_selected_states", [])
    taken = next(
        (
            state_codes(item.get("value", []))
            for item in spec["sidebar"]
            if item["kind"] == "multiselect" and item.get("key") == "filter_states"
        ),
        [],
    )
    Drawer(1.0 + 0.01 * len(chosen), name, (taken, chosen)).draw(spec["main"])


def page_function(name: str, spec: dict[str, Any]) -> Any:
    def draw() -> None:
        page(name, spec)

    draw.__name__ = f"floor_{spec['url_path'] or 'overview'}"
    return draw


def sign_in_configured() -> bool:
    try:
        return "auth" in st.secrets
    except Exception:  # no secrets file at all
        return False


def sign_in_page() -> None:
    """The dashboard's sign-in page, drawn the same way: the link kept, a text, a button."""
    st.html(
        "<script>(() => { const here = window.location;"
        f" document.cookie = `{LINK_COOKIE}=${{encodeURIComponent(here.pathname + here.search)}}"
        "; path=/; max-age=900; SameSite=Lax`; })();</script>",
        unsafe_allow_javascript=True,
    )
    st.title("Floor")
    st.markdown("Sign in with your organization's account.")
    if st.button("Sign in", type="primary"):
        st.login()


def follow_kept_link(pages: dict[str, Any], current: Any) -> None:
    """On the session's first signed-in run at the bare root, open the kept link (once)."""
    if st.session_state.get("floor_link_followed"):
        return
    st.session_state["floor_link_followed"] = True
    value = st.context.cookies.get(LINK_COOKIE)
    if not value or current.url_path != "" or st.query_params:
        return
    address = urlsplit(unquote(value))
    path = address.path.rstrip("/").rsplit("/", 1)[-1]
    if path in pages and path:
        st.switch_page(pages[path], query_params=parse_qs(address.query))


def main() -> None:
    path = (
        sys.argv[1] if len(sys.argv) > 1 else str(Path(__file__).parent / "work" / "skeletons.json")
    )
    pages = skeletons(path)
    st.set_page_config(page_title="Floor", layout="wide")
    if sign_in_configured() and not st.user.get("is_logged_in"):
        gate = [st.Page(sign_in_page, title="Sign in", url_path="sign_in", default=True)]
        gate += [
            st.Page(sign_in_page, title=name, url_path=spec["url_path"])
            for name, spec in pages.items()
            if spec["url_path"]
        ]
        st.navigation(gate, position="hidden").run()
        return
    by_path = {
        spec["url_path"]: st.Page(
            page_function(name, spec),
            title=name,
            url_path=spec["url_path"] or None,
            default=not spec["url_path"],
        )
        for name, spec in pages.items()
    }
    navigation = st.navigation(list(by_path.values()))
    if st.user.get("is_logged_in"):
        st.container(key="viewer_banner").text(f"Signed in as {st.user.get('email')}")
        follow_kept_link(by_path, navigation)
    first = next(iter(pages.values()))
    st.session_state["floor_selected_states"] = sidebar(first["sidebar"])
    navigation.run()


if __name__ == "__main__":  # streamlit runs the script as __main__
    main()
