//! A contextual sequence detector: how surprising is this row, given the sequences of values
//! the series has shown so far?
//!
//! This follows the Contextual Anomaly Detector (CAD, M. Smirnov; "CAD OSE" on NAB's
//! scoreboard), an associative memory of *contexts*:
//!
//! - Each row's value is quantised to one of `2^value_bits` levels and written as one *fact*
//!   per bit (`bit position, bit value`), so nearby levels share facts.
//! - A context pairs a *left* set of facts (the previous row's facts plus the contexts that
//!   were active then) with a *right* set (the current row's facts). A zero-level context is the
//!   literal pair of consecutive rows; higher ones are the intersections of zero-level contexts
//!   with what was seen since, and are what lets the memory generalise.
//! - Every row, the contexts whose left side was fully present on the previous row are
//!   *selected*: they predicted their right side. Those whose right side is now fully present
//!   are *active*. The most often confirmed active contexts become facts of the next left side
//!   (the "neurons"), which is how longer sequences are remembered.
//!
//! A row's raw score is `(1 − active/selected + new/potential) / 2`: high when few of the
//! contexts that should have fired did, and when most of what the row shows has never been
//! seen together. It is 0 when the row's facts were all among the facts predicted on the
//! previous row. After a score of `base_threshold` or more the detector is quiet for
//! `rest_rows` rows: one incident, one alarm.
//!
//! Unlike NAB's harness, which hands the detector the minimum and maximum of the whole file,
//! the value range here is learnt from the warm-up rows only; a later value outside it gets
//! levels (and facts) of its own, which is itself a strong signal. The warm-up rows are
//! buffered, then replayed into the memory once the range is known, so every row is still
//! scored from the rows before it.

use std::collections::HashMap;

use super::{DetectorConfigError, StreamingDetector};

/// Facts of the value's bits are `SENSOR_BASE + 2 * bit_position + bit`.
const SENSOR_BASE: u32 = 1 << 16;
/// The facts of a level below the learnt range carry this extra fact.
const BELOW_RANGE: u32 = SENSOR_BASE - 1;
/// Active contexts become the facts `NEURON_BASE + context id` of the next left side.
const NEURON_BASE: u32 = 1 << 31;

/// Settings of [`ContextDetector`].
#[derive(Clone, Debug, PartialEq)]
pub struct ContextConfig {
    /// Rows that only train the detector (and set its value range) before scoring starts.
    pub warmup_rows: usize,
    /// The value is quantised to `2^value_bits` levels over the learnt range.
    pub value_bits: u32,
    /// Contexts are only generalised from left sides of at most this many facts.
    pub max_left_facts: usize,
    /// At most this many active contexts carry over to the next row as facts.
    pub max_active_contexts: usize,
    /// A raw score of at least this mutes the following `rest_rows` rows.
    pub base_threshold: f64,
    pub rest_rows: usize,
    /// The memory stops growing at this many contexts; a pattern that is new after that still
    /// counts as new, it is just not remembered. This bounds both memory (200,000 contexts
    /// took 27 MB on uniform noise) and the time per row, which grows with the contexts a row
    /// selects. No NAB file reaches the default (white noise comes closest, 70,000 in 4,000
    /// rows).
    pub max_contexts: usize,
    /// The value range, when it is known in advance (a percentage, say); otherwise it is the
    /// warm-up rows' minimum and maximum.
    pub range: Option<(f64, f64)>,
}

impl ContextConfig {
    /// The settings CAD was published with, for a series with this many warm-up rows (the rest
    /// period is a fifth of the warm-up, as in NAB's harness).
    pub fn for_warmup(warmup_rows: usize) -> ContextConfig {
        ContextConfig {
            warmup_rows: warmup_rows.max(2),
            value_bits: 3,
            max_left_facts: 7,
            max_active_contexts: 15,
            base_threshold: 0.75,
            rest_rows: warmup_rows / 5,
            max_contexts: 100_000,
            range: None,
        }
    }
}

impl ContextConfig {
    pub fn validate(&self) -> Result<(), DetectorConfigError> {
        let invalid = |field, reason| Err(DetectorConfigError { field, reason });
        if self.warmup_rows < 2 {
            return invalid("context.warmup_rows", "must be at least 2");
        }
        if !(1..=12).contains(&self.value_bits) {
            return invalid("context.value_bits", "must be between 1 and 12; 3 is the default");
        }
        if !(self.base_threshold > 0.0 && self.base_threshold <= 1.0) {
            return invalid("context.base_threshold", "must be in (0, 1]; 0.75 is the default");
        }
        if self.max_contexts == 0 {
            return invalid("context.max_contexts", "must be at least 1; 100000 is the default");
        }
        if let Some((min, max)) = self.range
            && !(min.is_finite() && max.is_finite() && min <= max)
        {
            return invalid("context.range", "must be finite with min <= max");
        }
        Ok(())
    }
}

#[derive(Clone, Debug, Default)]
struct SemiContext {
    facts: Vec<u32>,
    /// How many facts of the last crossing this semi-context holds.
    matched: usize,
}

impl SemiContext {
    fn fully_matched(&self) -> bool {
        self.matched == self.facts.len()
    }
}

#[derive(Clone, Debug)]
struct Context {
    right: usize,
    zero_level: bool,
    /// Facts predicted (the right side's size) each time the left side was fully present.
    predicted: u64,
    /// Of those, the facts that were then present.
    confirmed: u64,
    /// Times the whole right side followed the whole left side.
    activations: u64,
}

/// One side (left or right) of the context memory: its semi-contexts, indexed by fact.
#[derive(Clone, Debug, Default)]
struct Side {
    semis: Vec<SemiContext>,
    by_facts: HashMap<Vec<u32>, usize>,
    by_fact: HashMap<u32, Vec<usize>>,
    /// Semi-contexts holding at least one fact of the last crossing.
    crossed: Vec<usize>,
    /// The facts of the last crossing (sorted).
    crossing: Vec<u32>,
}

impl Side {
    /// The id of the semi-context with exactly these facts, created if new.
    fn intern(&mut self, facts: &[u32]) -> usize {
        if let Some(id) = self.by_facts.get(facts) {
            return *id;
        }
        let id = self.semis.len();
        self.semis.push(SemiContext { facts: facts.to_vec(), matched: 0 });
        self.by_facts.insert(facts.to_vec(), id);
        for fact in facts {
            self.by_fact.entry(*fact).or_default().push(id);
        }
        id
    }

    /// Counts how many of `facts` (sorted) each semi-context holds.
    fn cross(&mut self, facts: &[u32]) {
        for id in self.crossed.drain(..) {
            self.semis[id].matched = 0;
        }
        for fact in facts {
            for id in self.by_fact.get(fact).into_iter().flatten() {
                let semi = &mut self.semis[*id];
                if semi.matched == 0 {
                    self.crossed.push(*id);
                }
                semi.matched += 1;
            }
        }
        self.crossing.clear();
        self.crossing.extend_from_slice(facts);
    }

    /// The facts of the last crossing that semi-context `id` holds.
    fn matched_facts(&self, id: usize) -> Vec<u32> {
        let facts = &self.semis[id].facts;
        self.crossing.iter().copied().filter(|fact| facts.binary_search(fact).is_ok()).collect()
    }
}

#[derive(Clone, Debug, Default)]
struct Memory {
    left: Side,
    right: Side,
    contexts: Vec<Context>,
    /// For each left semi-context, its contexts by right semi-context.
    by_left: Vec<Vec<(usize, usize)>>,
}

impl Memory {
    /// The id of the context (left, right), if it is stored.
    fn find(&self, left: &[u32], right: &[u32]) -> Option<usize> {
        let left_id = self.left.by_facts.get(left)?;
        let right_id = self.right.by_facts.get(right)?;
        let contexts = self.by_left.get(*left_id)?;
        contexts.iter().find(|(r, _)| r == right_id).map(|(_, id)| *id)
    }

    /// Stores the context (left, right) unless it exists or `capacity` contexts are stored
    /// already; returns its id (`None` if it is new and could not be stored) and whether it is
    /// new.
    fn context(
        &mut self,
        left: &[u32],
        right: &[u32],
        zero_level: bool,
        capacity: usize,
    ) -> (Option<usize>, bool) {
        if let Some(id) = self.find(left, right) {
            if zero_level {
                self.contexts[id].zero_level = true;
            }
            return (Some(id), false);
        }
        if self.contexts.len() >= capacity {
            return (None, true);
        }
        let left_id = self.left.intern(left);
        let right_id = self.right.intern(right);
        if self.by_left.len() <= left_id {
            self.by_left.resize(left_id + 1, Vec::new());
        }
        let id = self.contexts.len();
        self.contexts.push(Context {
            right: right_id,
            zero_level,
            predicted: 0,
            confirmed: 0,
            activations: 0,
        });
        self.by_left[left_id].push((right_id, id));
        (Some(id), true)
    }
}

/// What one row did to the memory.
struct Step {
    predictions: Vec<u32>,
    active_share: f64,
    new_share: f64,
}

/// The contextual detector described in the module documentation.
#[derive(Clone, Debug)]
pub struct ContextDetector {
    config: ContextConfig,
    memory: Memory,
    left_facts: Vec<u32>,
    predicted: Vec<u32>,
    warmup: Vec<f64>,
    range: Option<(f64, f64)>,
    /// Raw scores of the last `rest_rows` rows.
    recent: std::collections::VecDeque<f64>,
}

impl ContextDetector {
    pub fn new(config: ContextConfig) -> Result<ContextDetector, DetectorConfigError> {
        config.validate()?;
        Ok(ContextDetector {
            memory: Memory::default(),
            left_facts: Vec::new(),
            predicted: Vec::new(),
            warmup: Vec::new(),
            range: config.range,
            recent: std::collections::VecDeque::from([1.0]),
            config,
        })
    }

    /// The number of contexts learnt so far.
    pub fn contexts(&self) -> usize {
        self.memory.contexts.len()
    }

    /// The facts of a value: one per bit of its level, plus a marker below the range.
    fn facts(&self, value: f64) -> Vec<u32> {
        let (min, max) = self.range.unwrap_or((0.0, 1.0));
        let top_level = f64::from((1u32 << self.config.value_bits) - 1);
        let span = if max > min { max - min } else { top_level };
        let level = ((value - min) / (span / top_level)).trunc();
        let magnitude = level.abs().min(f64::from(u32::MAX >> 17)) as u32;
        let bits = (u32::BITS - magnitude.leading_zeros()).max(self.config.value_bits);
        let mut facts: Vec<u32> =
            (0..bits).map(|bit| SENSOR_BASE + 2 * bit + ((magnitude >> bit) & 1)).collect();
        if level < 0.0 {
            facts.push(BELOW_RANGE);
        }
        facts.sort_unstable();
        facts
    }

    /// Learns one row; returns its raw score.
    fn learn(&mut self, value: f64) -> f64 {
        let facts = self.facts(value);
        let surprise = facts.iter().any(|fact| self.predicted.binary_search(fact).is_err());
        let step = self.step(&facts);
        self.predicted = step.predictions;
        if surprise { (1.0 - step.active_share + step.new_share) / 2.0 } else { 0.0 }
    }

    fn step(&mut self, facts: &[u32]) -> Step {
        let mut potential: Vec<(Vec<u32>, Vec<u32>)> = Vec::new();
        // Whether the previous row followed by this one is a new pair, and its id if stored.
        let (mut zero_level_new, mut new_zero_level) = (false, None);
        if !self.left_facts.is_empty() {
            let left = self.left_facts.clone();
            let (id, new) = self.memory.context(&left, facts, true, self.config.max_contexts);
            potential.push((left, facts.to_vec()));
            if new {
                (zero_level_new, new_zero_level) = (true, id);
            }
        }
        self.memory.right.cross(facts);

        // The contexts selected by the previous row's left side, and those now confirmed.
        let mut selected = 0usize;
        let mut active: Vec<usize> = Vec::new();
        let memory = &mut self.memory;
        for left_id in &memory.left.crossed {
            let left = &memory.left.semis[*left_id];
            if !left.fully_matched() && !zero_level_new {
                // Neither selected nor a source of new contexts this row.
                continue;
            }
            for (right_id, context_id) in memory.by_left.get(*left_id).into_iter().flatten() {
                if Some(*context_id) == new_zero_level {
                    continue;
                }
                let right = &memory.right.semis[*right_id];
                let context = &mut memory.contexts[*context_id];
                let generalise = context.zero_level
                    && zero_level_new
                    && right.matched > 0
                    && left.matched <= self.config.max_left_facts;
                if left.fully_matched() {
                    selected += 1;
                    context.predicted += right.facts.len() as u64;
                    context.confirmed += right.matched as u64;
                    if right.matched > 0 && right.fully_matched() {
                        context.activations += 1;
                        active.push(*context_id);
                        continue;
                    }
                }
                if generalise {
                    potential.push((
                        memory.left.matched_facts(*left_id),
                        memory.right.matched_facts(*right_id),
                    ));
                }
            }
        }
        let active_share = if selected > 0 { active.len() as f64 / selected as f64 } else { 0.0 };

        // The most confirmed active contexts join this row's facts as the next left side.
        active.sort_by_key(|id| (memory.contexts[*id].activations, *id));
        let keep_from = active.len().saturating_sub(self.config.max_active_contexts);
        let mut left_facts: Vec<u32> = facts.to_vec();
        left_facts.extend(active[keep_from..].iter().map(|id| NEURON_BASE + *id as u32));
        left_facts.sort_unstable();
        left_facts.dedup();

        // Store the generalised contexts, then predict from the contexts the new left side
        // selects: the right sides of those with the best record.
        let unique: std::collections::HashSet<&(Vec<u32>, Vec<u32>)> = potential.iter().collect();
        let unique = unique.len();
        let mut created = usize::from(zero_level_new);
        for (left, right) in potential.iter().skip(usize::from(!self.left_facts.is_empty())) {
            if memory.context(left, right, false, self.config.max_contexts).1 {
                created += 1;
            }
        }
        memory.left.cross(&left_facts);
        let mut best = 0.0f64;
        let mut winners: Vec<usize> = Vec::new();
        for left_id in &memory.left.crossed {
            if !memory.left.semis[*left_id].fully_matched() {
                continue;
            }
            for (_, context_id) in memory.by_left.get(*left_id).into_iter().flatten() {
                let context = &memory.contexts[*context_id];
                let weight = if context.predicted > 0 {
                    context.confirmed as f64 / context.predicted as f64
                } else {
                    0.0
                };
                if weight > best {
                    best = weight;
                    winners.clear();
                }
                if weight == best {
                    winners.push(*context_id);
                }
            }
        }
        let mut predictions: Vec<u32> = winners
            .iter()
            .flat_map(|id| memory.right.semis[memory.contexts[*id].right].facts.iter().copied())
            .collect();
        predictions.sort_unstable();
        predictions.dedup();
        self.left_facts = left_facts;
        let new_share =
            if zero_level_new && unique > 0 { created as f64 / unique as f64 } else { 0.0 };
        Step { predictions, active_share, new_share }
    }

    fn rest(&mut self, raw: f64) -> f64 {
        let resting = self.recent.iter().any(|score| *score >= self.config.base_threshold);
        self.recent.push_back(raw);
        while self.recent.len() > self.config.rest_rows.max(1) {
            self.recent.pop_front();
        }
        if resting { 0.0 } else { raw }
    }
}

impl StreamingDetector for ContextDetector {
    fn observe(&mut self, _timestamp: i64, value: f64) -> f64 {
        if !value.is_finite() {
            return 0.0;
        }
        if self.range.is_none() {
            self.warmup.push(value);
            if self.warmup.len() >= self.config.warmup_rows {
                let min = self.warmup.iter().copied().fold(f64::INFINITY, f64::min);
                let max = self.warmup.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                self.range = Some((min, max));
                for value in std::mem::take(&mut self.warmup) {
                    let raw = self.learn(value);
                    self.rest(raw);
                }
            }
            return 0.0;
        }
        let raw = self.learn(value);
        self.rest(raw)
    }
}
