//! Channels tests, by topic, over the mock's real ModelRegistry, Providers and orml Tokens.
//! Tickets are built here from the spec's formula (not the pallet's) and signed with the dev
//! accounts' sr25519 keys; `layout.rs` pins hashes, signatures, keys and SCALE bytes that devnode
//! produced, so both implementations agree byte for byte.

mod invariants;
mod layout;
mod open;
mod settle;
mod validation;

use crate::{mock::*, ChannelSettlement, Channels, DirectChecks, DirectResult, ModelId};
use codec::Encode;
use frame_support::{assert_ok, traits::Hooks};
use genai_primitives::ProviderRegistry;
use orml_traits::MultiReservableCurrency;
use sp_core::{Pair, H256};

pub type Result_ = DirectResult<Balance, BlockNumber>;
pub type Settlement = ChannelSettlement<AccountId, Balance, BlockNumber>;

pub fn signed(who: &AccountId) -> RuntimeOrigin {
	RuntimeOrigin::signed(who.clone())
}

/// The pallet's events so far, oldest first.
pub fn channel_events() -> Vec<crate::Event<Test>> {
	System::events()
		.into_iter()
		.filter_map(|record| match record.event {
			RuntimeEvent::Channels(event) => Some(event),
			_ => None,
		})
		.collect()
}

/// Every event so far (all pallets), oldest first.
pub fn all_events() -> Vec<RuntimeEvent> {
	System::events().into_iter().map(|record| record.event).collect()
}

/// Runs blocks up to `n`, each with its own parent hash, calling Channels' `on_initialize`.
pub fn run_to(n: BlockNumber) {
	while System::block_number() < n {
		let next = System::block_number() + 1;
		System::set_block_number(next);
		System::set_parent_hash(H256(sp_io::hashing::blake2_256(&next.to_le_bytes())));
		ChannelsPallet::on_initialize(next);
	}
}

/// The spec's ticket hash, written out from docs/pallets.md (independent of the pallet's).
#[allow(clippy::too_many_arguments)]
pub fn spec_ticket_hash(
	prev: H256,
	channel_id: u64,
	executor: &AccountId,
	model_id: ModelId,
	result: &Result_,
	cumulative: u128,
	nonce: u64,
) -> H256 {
	let mut data = b"genai-ticket".to_vec();
	data.extend_from_slice(prev.as_bytes());
	data.extend_from_slice(&channel_id.to_le_bytes());
	data.extend_from_slice(executor.as_ref());
	data.extend_from_slice(model_id.as_bytes());
	data.extend_from_slice(result.prompt_hash.as_bytes());
	data.extend_from_slice(&result.max_tokens.to_le_bytes());
	data.extend_from_slice(&result.max_price_per_1k_tokens.to_le_bytes());
	data.extend_from_slice(&result.max_amount.to_le_bytes());
	data.extend_from_slice(&cumulative.to_le_bytes());
	data.extend_from_slice(&nonce.to_le_bytes());
	data.extend_from_slice(&result.expiry.to_le_bytes());
	H256(sp_io::hashing::blake2_256(&data))
}

/// `b"genai-ticket:" ++ hash` signed by the dev key `seed`.
pub fn sign_ticket(seed: &str, hash: H256) -> [u8; 64] {
	let mut message = b"genai-ticket:".to_vec();
	message.extend_from_slice(hash.as_bytes());
	pair(seed).sign(&message).0
}

/// A requester's view of its channel's ticket chain: what its gateway signs next.
pub struct Tickets {
	pub seed: &'static str,
	pub requester: AccountId,
	pub executor: AccountId,
	pub channel_id: u64,
	pub head: H256,
	pub cumulative: u128,
	pub nonce: u64,
}

impl Tickets {
	/// The chain as the channel stores it now.
	pub fn of(seed: &'static str, executor: &AccountId) -> Self {
		let requester = account(seed);
		let channel = Channels::<Test>::get(&requester, executor).expect("an open channel");
		Self {
			seed,
			requester,
			executor: executor.clone(),
			channel_id: channel.id,
			head: channel.head,
			cumulative: channel.settled_cumulative,
			nonce: channel.nonce,
		}
	}

	/// Signs `results` as the next tickets (advancing the chain) and returns their settlement.
	pub fn sign(&mut self, models: &[ModelId], results: Vec<Result_>) -> Settlement {
		let first_nonce = self.nonce + 1;
		for result in &results {
			self.cumulative += result.max_amount;
			self.nonce += 1;
			self.head = spec_ticket_hash(
				self.head,
				self.channel_id,
				&self.executor,
				models[result.model_index as usize],
				result,
				self.cumulative,
				self.nonce,
			);
		}
		Settlement {
			requester: self.requester.clone(),
			first_nonce,
			models: models.to_vec(),
			results,
			signature: sign_ticket(self.seed, self.head),
		}
	}
}

/// A served ticket of the first model: `prompt` + `completion` tokens of at most `max_tokens`
/// completion, `max_amount` at most, expiring at `expiry`; hashes from `tag`.
pub fn result(
	tag: u8,
	prompt: u32,
	completion: u32,
	max_tokens: u32,
	max_amount: Balance,
	expiry: BlockNumber,
) -> Result_ {
	DirectResult {
		model_index: 0,
		prompt_hash: H256::repeat_byte(tag),
		max_tokens,
		max_price_per_1k_tokens: PRICE,
		max_amount,
		expiry,
		output_hash: H256::repeat_byte(tag.wrapping_add(0x80)),
		prompt_tokens: prompt,
		completion_tokens: completion,
	}
}

/// A result of 10 + 40 tokens (cost 50 at the mock's price), at most 100, expiring in 50 blocks.
pub fn plain(tag: u8) -> Result_ {
	result(tag, 10, 40, 64, 100, System::block_number() + 50)
}

/// `seed` opens a channel of `amount` INFER to `executor`.
pub fn open(seed: &str, executor: &AccountId, amount: Balance) {
	assert_ok!(ChannelsPallet::open_channel(
		signed(&account(seed)),
		executor.clone(),
		INFER,
		amount
	));
}

pub fn reserved(who: &AccountId) -> Balance {
	Tokens::reserved_balance(INFER, who)
}

pub fn free(who: &AccountId) -> Balance {
	<Tokens as orml_traits::MultiCurrency<AccountId>>::free_balance(INFER, who)
}

/// The sum of the open checks' cost of one channel.
pub fn checks_cost(requester: &AccountId, executor: &AccountId) -> Balance {
	DirectChecks::<Test>::iter_values()
		.filter(|check| &check.requester == requester && &check.executor == executor)
		.map(|check| check.cost)
		.sum()
}

/// The spec's invariants: per channel `held <= deposit` and `held` = the open checks' cost; a
/// requester's reserve (not a provider here) is the deposits of its channels in the currency.
pub fn assert_invariants() {
	let mut deposits = std::collections::BTreeMap::<(AccountId, CurrencyId), Balance>::new();
	for (requester, executor, channel) in Channels::<Test>::iter() {
		assert!(channel.held <= channel.deposit, "held above deposit: {channel:?}");
		assert_eq!(channel.held, checks_cost(&requester, &executor), "held != open checks");
		*deposits.entry((requester, channel.currency_id)).or_default() += channel.deposit;
	}
	for check in DirectChecks::<Test>::iter_values() {
		assert!(
			Channels::<Test>::contains_key(&check.requester, &check.executor),
			"a check without its channel"
		);
	}
	for ((requester, currency), deposit) in deposits {
		if <ProvidersPallet as ProviderRegistry<AccountId>>::provider(&requester).is_none() {
			assert_eq!(Tokens::reserved_balance(currency, &requester), deposit);
		}
	}
}

/// SCALE bytes as hex, for pinning.
pub fn hex_of(value: &impl Encode) -> String {
	value.encode().iter().map(|b| format!("{b:02x}")).collect()
}

/// The accounts and models of most tests: Dave authors three models (`model` in INFER at
/// `PRICE`, `usdd_model` in USDD, `pricey_model` in INFER at twice the price); Bob serves all
/// three; Alice (and Eve) are requesters, Ferdie nobody.
pub struct World {
	pub alice: AccountId,
	pub bob: AccountId,
	pub charlie: AccountId,
	pub dave: AccountId,
	pub eve: AccountId,
	pub ferdie: AccountId,
	pub model: ModelId,
	pub usdd_model: ModelId,
	pub pricey_model: ModelId,
}

impl World {
	/// Bob is the only provider: nobody can validate, every result is paid at once.
	pub fn new() -> Self {
		let dave = account("Dave");
		let world = Self {
			alice: account("Alice"),
			bob: account("Bob"),
			charlie: account("Charlie"),
			eve: account("Eve"),
			ferdie: account("Ferdie"),
			model: register_model(&dave, 1, PRICE, INFER),
			usdd_model: register_model(&dave, 2, PRICE, USDD),
			pricey_model: register_model(&dave, 3, 2 * PRICE, INFER),
			dave,
		};
		register_provider(&world.bob, &[world.model, world.usdd_model, world.pricey_model]);
		world
	}

	/// Charlie serves the models too (reputation 0: every result of Bob's is sampled and
	/// Charlie, the only other provider, is drawn).
	pub fn with_validator() -> Self {
		let world = Self::new();
		register_provider(&world.charlie, &[world.model, world.usdd_model, world.pricey_model]);
		world
	}

	pub fn set_reputation(&self, who: &AccountId, reputation: u8) {
		assert_ok!(ProvidersPallet::set_reputation(RuntimeOrigin::root(), who.clone(), reputation));
	}

	pub fn reputation(&self, who: &AccountId) -> u8 {
		<ProvidersPallet as ProviderRegistry<AccountId>>::provider(who)
			.expect("a provider")
			.reputation
	}

	pub fn stake(&self, who: &AccountId) -> Balance {
		<ProvidersPallet as ProviderRegistry<AccountId>>::provider(who).expect("a provider").stake
	}
}
