//! Inference tests, by topic, over the real ModelRegistry, Providers and orml Tokens. Every
//! lifecycle test ends with [`check_invariants`] (the spec's invariants).

mod decline;
mod draws;
mod expiry;
mod indices;
mod lifecycle;
mod output;
mod request;
mod result;
mod sealed;
mod validation;
mod weights;

use crate::{
	mock::*, BandwidthInUse, Event, InferenceInput, InferenceInputOf, InferenceRequestOf, KeyWrap,
	ModelId, NextRequestId, RequestId, RequestState, Requests, SealedInput,
};
use frame_support::{assert_ok, traits::Hooks};
use orml_traits::{MultiCurrency, MultiReservableCurrency};
use sp_core::H256;
use sp_runtime::{DispatchResult, Permill};
use std::collections::BTreeMap;

/// The default model's price per 1k tokens (INFER).
pub const PRICE: Balance = 1_000_000;
pub const PROMPT: u32 = 10;
pub const MAX_TOKENS: u32 = 20;
/// `ceil((10 + 20) × 1_000_000 / 1000)`.
pub const ESCROW: Balance = 30_000;
/// `10 × 3 + 20 × 640`.
pub const BANDWIDTH: u64 = 12_830;
pub const DEADLINE_BLOCKS: BlockNumber = 10;
pub const PROMPT_TEXT: &[u8] = b"hello, model";
pub const KEY: [u8; 32] = [7; 32];

pub fn signed(who: AccountId) -> RuntimeOrigin {
	RuntimeOrigin::signed(who)
}

/// Alice's model 0: `PRICE` INFER per 1k tokens, 5 % author share.
pub fn model() -> ModelId {
	register_model(ALICE, 0, PRICE, INFER, Permill::from_percent(5))
}

/// `who` serves `models` with `stake`, `capacity` and optionally an encryption key.
pub fn provider_with(
	who: AccountId,
	models: Vec<ModelId>,
	stake: Balance,
	capacity: u32,
	key: Option<[u8; 32]>,
) {
	assert_ok!(Providers::register_provider(
		signed(who),
		stake,
		b"http://provider".to_vec(),
		models,
		capacity,
		key,
	));
}

/// `who` serves `model` with the minimum stake, capacity 8 and the encryption key `KEY`.
pub fn provider(who: AccountId, model: ModelId) {
	provider_with(who, vec![model], MIN_STAKE, 8, Some(KEY));
}

pub fn set_reputation(who: AccountId, reputation: u8) {
	assert_ok!(Providers::set_reputation(RuntimeOrigin::root(), who, reputation));
}

pub fn inline(bytes: &[u8]) -> InferenceInputOf<Test> {
	InferenceInput::Inline(bytes.to_vec())
}

pub fn request_with(
	who: AccountId,
	model_id: ModelId,
	input: InferenceInputOf<Test>,
	prompt_tokens: u32,
	max_tokens: u32,
	max_price: Balance,
	deadline_blocks: BlockNumber,
) -> DispatchResult {
	Inference::request(
		signed(who),
		model_id,
		input,
		prompt_tokens,
		max_tokens,
		max_price,
		deadline_blocks,
	)
}

/// Bob requests `model_id` with the default input, token counts and deadline; its id.
pub fn request(model_id: ModelId) -> RequestId {
	assert_ok!(request_with(
		BOB,
		model_id,
		inline(PROMPT_TEXT),
		PROMPT,
		MAX_TOKENS,
		PRICE,
		DEADLINE_BLOCKS
	));
	NextRequestId::<Test>::get() - 1
}

pub fn output_hash(output: &[u8]) -> H256 {
	H256(sp_io::hashing::blake2_256(output))
}

/// The executor submits `output`'s hash with `prompt` + `completion` tokens.
pub fn submit(id: RequestId, output: &[u8], prompt: u32, completion: u32) -> DispatchResult {
	let executor = req(id).executor;
	Inference::submit_result(signed(executor), id, output_hash(output), None, prompt, completion)
}

pub fn req(id: RequestId) -> InferenceRequestOf<Test> {
	Requests::<Test>::get(id).expect("the request exists")
}

pub fn validator_of(id: RequestId) -> AccountId {
	match req(id).state {
		RequestState::AwaitingValidation { validator, .. } => validator,
		state => panic!("not awaiting validation: {state:?}"),
	}
}

/// A sealed input with a wrap to each of `recipients`.
pub fn sealed(commitment: u8, recipients: &[AccountId]) -> SealedInput<AccountId> {
	SealedInput {
		commitment: H256::repeat_byte(commitment),
		output_key: [9; 32],
		wraps: recipients
			.iter()
			.map(|who| KeyWrap { provider: *who, wrapped: vec![1; 80] })
			.collect(),
		payload: b"ciphertext".to_vec(),
	}
}

/// Inference's events so far, oldest first.
pub fn inference_events() -> Vec<Event<Test>> {
	System::events()
		.into_iter()
		.filter_map(|record| match record.event {
			RuntimeEvent::Inference(event) => Some(event),
			_ => None,
		})
		.collect()
}

pub fn last_event() -> Event<Test> {
	inference_events().pop().expect("an Inference event")
}

/// Every event (all pallets) since `from`, less orml's `BalanceSet`: orml-tokens 1.5's
/// `repatriate_reserved` emits one per account it writes (`set_free_balance`,
/// `set_reserved_balance`) before `ReserveRepatriated`; `orml_repatriation_events` pins them.
pub fn events_since(from: usize) -> Vec<RuntimeEvent> {
	System::events()
		.into_iter()
		.skip(from)
		.map(|record| record.event)
		.filter(|event| {
			!matches!(event, RuntimeEvent::Tokens(orml_tokens::Event::BalanceSet { .. }))
		})
		.collect()
}

pub fn event_count() -> usize {
	System::events().len()
}

/// Advance to block `n`, running Inference's `on_initialize` in each block.
pub fn run_to(n: BlockNumber) {
	while System::block_number() < n {
		let next = System::block_number() + 1;
		System::set_block_number(next);
		Inference::on_initialize(next);
	}
}

/// Set the parent hash to the first of `H256::from_low_u64_be(0..)` for which `wanted` holds.
pub fn seed_where(wanted: impl Fn(H256) -> bool) -> H256 {
	let seed = (0u64..100_000)
		.map(H256::from_low_u64_be)
		.find(|seed| wanted(*seed))
		.expect("a seed in range");
	set_parent_hash(seed);
	seed
}

pub fn free(who: AccountId, currency: CurrencyId) -> Balance {
	Tokens::free_balance(currency, &who)
}

pub fn reserved(who: AccountId, currency: CurrencyId) -> Balance {
	Tokens::reserved_balance(currency, &who)
}

pub fn stake_of(who: AccountId) -> Balance {
	pallet_providers::Providers::<Test>::get(who).map(|info| info.stake).unwrap_or(0)
}

pub fn in_flight_of(who: AccountId) -> u32 {
	pallet_providers::Providers::<Test>::get(who).map(|info| info.in_flight).unwrap_or(0)
}

pub fn reputation_of(who: AccountId) -> u8 {
	pallet_providers::Providers::<Test>::get(who).map(|info| info.reputation).unwrap_or(0)
}

/// The accounts that hold anything in Tokens.
fn token_holders() -> Vec<AccountId> {
	let mut holders: Vec<AccountId> =
		orml_tokens::Accounts::<Test>::iter_keys().map(|(who, _)| who).collect();
	holders.sort();
	holders.dedup();
	holders
}

/// The spec's invariants: every account's reserve is its stake plus the escrows of its
/// non-terminal requests; `in_flight` counts a provider's non-terminal requests and
/// `BandwidthInUse` the estimates of its `Assigned` ones; issuance changes only by slashes; each
/// request has exactly one ending event if terminal and none otherwise.
pub fn check_invariants() {
	let mut escrows: BTreeMap<(AccountId, CurrencyId), Balance> = BTreeMap::new();
	let mut in_flight: BTreeMap<AccountId, u32> = BTreeMap::new();
	let mut bandwidth: BTreeMap<AccountId, u64> = BTreeMap::new();
	let mut terminal: BTreeMap<RequestId, bool> = BTreeMap::new();
	for (id, r) in Requests::<Test>::iter() {
		terminal.insert(id, r.state.is_terminal());
		if !r.state.is_terminal() {
			*escrows.entry((r.requester, r.currency_id)).or_default() += r.escrow;
			*in_flight.entry(r.executor).or_default() += 1;
		}
		if r.state == RequestState::Assigned {
			*bandwidth.entry(r.executor).or_default() += r.bandwidth_bytes;
		}
	}
	for who in token_holders() {
		for currency in [INFER, USDD] {
			let stake = if currency == INFER { stake_of(who) } else { 0 };
			let escrow = escrows.get(&(who, currency)).copied().unwrap_or(0);
			assert_eq!(reserved(who, currency), stake + escrow, "reserve of {who} in {currency}");
		}
	}
	for (who, info) in pallet_providers::Providers::<Test>::iter() {
		assert_eq!(info.in_flight, in_flight.get(&who).copied().unwrap_or(0), "in_flight of {who}");
	}
	let in_use: BTreeMap<AccountId, u64> = BandwidthInUse::<Test>::iter().collect();
	bandwidth.retain(|_, bytes| *bytes > 0);
	assert_eq!(in_use, bandwidth, "BandwidthInUse");
	let slashed: Balance = System::events()
		.into_iter()
		.filter_map(|record| match record.event {
			RuntimeEvent::Providers(pallet_providers::Event::StakeSlashed { amount, .. }) => {
				Some(amount)
			},
			_ => None,
		})
		.sum();
	let endowed = (6 + EXTRA_ACCOUNTS as u128) * ENDOWMENT;
	assert_eq!(Tokens::total_issuance(INFER), endowed - slashed);
	assert_eq!(Tokens::total_issuance(USDD), endowed);
	let mut endings: BTreeMap<RequestId, u32> = BTreeMap::new();
	for event in inference_events() {
		let id = match event {
			Event::InferencePaid { request_id, .. }
			| Event::RequestExpired { request_id, .. }
			| Event::ValidationFailed { request_id, .. }
			| Event::OutputTimedOut { request_id, .. }
			| Event::RequestDeclined { request_id, .. } => request_id,
			_ => continue,
		};
		*endings.entry(id).or_default() += 1;
	}
	for (id, is_terminal) in terminal {
		let expected = u32::from(is_terminal);
		assert_eq!(endings.get(&id).copied().unwrap_or(0), expected, "ending events of {id}");
	}
}
